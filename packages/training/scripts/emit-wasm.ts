// Compiles src/kernels/optimizer.wat into src/kernels/optimizer-wasm.ts (the bytes as base64, so that
// bundles need no asset beside them). Run after editing the .wat: npm run emit-wasm -w @edgehead/training
import { writeFile } from 'node:fs/promises';
import { optimizerWasmModule } from '../src/kernels/compile-wat.ts';

const target = new URL('../src/kernels/optimizer-wasm.ts', import.meta.url);
const base64 = Buffer.from(await optimizerWasmModule()).toString('base64');
await writeFile(
  target,
  `// Generated from optimizer.wat by \`npm run emit-wasm -w @edgehead/training\`; do not edit.\nexport const optimizerWasmBase64 =\n  '${base64}';\n`,
);
console.log(`wrote ${target.pathname} (${base64.length} base64 characters)`);
