import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BackboneError } from './errors.ts';

/** The backends edgehead can run on, best first. */
export const BACKEND_PREFERENCE = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
/** A backend choice as the service reports it (on /health and on each run). */
export type BackendName = (typeof BACKEND_PREFERENCE)[number];

/** What `initBackend` settled on. */
export interface BackendInfo {
  /** edgehead's name for it: `tfjs-node-gpu`, `tfjs-node`, `wasm` or `cpu`. */
  name: BackendName;
  /** tfjs's own backend name (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** wasm only: whether the SIMD build runs; null elsewhere. */
  simd: boolean | null;
  /** Whether one process benefits from a worker pool (true for wasm/cpu, whose kernels are single-threaded here). */
  singleThreaded: boolean;
  /** Backends tried before this one, with why each was skipped. */
  skipped: { name: BackendName; reason: string }[];
  tfjsVersion: string;
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /** Candidates in order; defaults to BACKEND_PREFERENCE. */
  prefer?: readonly BackendName[];
  /** Folder (ending in a separator) holding tfjs-backend-wasm's `.wasm` files; default: its node_modules dist. */
  wasmDir?: string;
}

const NATIVE_PACKAGES = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
} as const;

let current: Promise<BackendInfo> | undefined;
let currentKey = '';

/** Folder of tfjs-backend-wasm's `.wasm` files in node_modules (works from source and from a bundle). */
export function defaultWasmDir(): string {
  const require = createRequire(import.meta.url);
  return (
    path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep
  );
}

async function tryNative(name: 'tfjs-node-gpu' | 'tfjs-node'): Promise<void> {
  // A variable specifier keeps bundlers and tsc from resolving these optional, GPU-image-only packages.
  const specifier: string = NATIVE_PACKAGES[name];
  await import(specifier);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
}

async function tryWasm(wasmDir: string): Promise<boolean> {
  setWasmPaths(wasmDir);
  // The threaded wasm build needs a pthread worker script that does not start in Node; one thread per
  // backend, and a pool of worker_threads for parallelism (see pool.ts).
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  return Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
}

async function choose(options: InitBackendOptions): Promise<BackendInfo> {
  const prefer = options.prefer ?? BACKEND_PREFERENCE;
  const skipped: BackendInfo['skipped'] = [];
  for (const name of prefer) {
    try {
      let simd: boolean | null = null;
      if (name === 'tfjs-node-gpu' || name === 'tfjs-node') await tryNative(name);
      else if (name === 'wasm') simd = await tryWasm(options.wasmDir ?? defaultWasmDir());
      else if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      await tf.ready();
      return {
        name,
        tfBackend: tf.getBackend(),
        simd,
        singleThreaded: name === 'wasm' || name === 'cpu',
        skipped,
        tfjsVersion: tf.version.tfjs,
      };
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) });
    }
  }
  throw new BackboneError(
    'backend_unavailable',
    `no tfjs backend could start; tried ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`,
    { details: { skipped } },
  );
}

/**
 * Picks and initialises the tfjs backend once per process (thread), best first:
 * tfjs-node-gpu, tfjs-node, wasm (SIMD when available), cpu. Later calls with the same options, or
 * with none, return the same answer; different options choose again.
 * @example const { name } = await initBackend(); // 'wasm' here, 'tfjs-node-gpu' in the GPU container
 */
export function initBackend(options?: InitBackendOptions): Promise<BackendInfo> {
  // No options: whatever was chosen already (so loadBackbone() keeps an app's explicit choice).
  if (options === undefined && current !== undefined) return current;
  options ??= {};
  const key = JSON.stringify([options.prefer ?? null, options.wasmDir ?? null]);
  if (current === undefined || key !== currentKey) {
    currentKey = key;
    current = choose(options);
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}
