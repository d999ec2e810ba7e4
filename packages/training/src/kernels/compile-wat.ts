import { readFile } from 'node:fs/promises';
import wabt from 'wabt';

/** Assembles optimizer.wat with wabt (a dev dependency: used by the emit script and the test that keeps the committed bytes in step). */
export async function optimizerWasmModule(): Promise<Uint8Array> {
  const source = await readFile(new URL('./optimizer.wat', import.meta.url), 'utf8');
  const module = (await wabt()).parseWat('optimizer.wat', source, { simd: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
