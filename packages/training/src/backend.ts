import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { TrainingError } from './errors.ts';

/** Backends in the order they are tried: native TensorFlow (GPU, then CPU), wasm SIMD, plain JS. */
export type TrainingBackend = 'tensorflow' | 'wasm' | 'cpu';

// Native bindings register the 'tensorflow' backend on import; they are optional (not installable
// everywhere), so they are imported by a computed name that bundlers and tsc leave alone.
const nativeModules = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let chosen: Promise<TrainingBackend> | undefined;

/**
 * Picks and initialises the fastest available tfjs backend once per process and returns its name.
 * `prefer` forces one (tests and benchmarks compare backends).
 * @example const backend = await initTrainingBackend(); // 'wasm' on a machine without tfjs-node
 */
export function initTrainingBackend(prefer?: TrainingBackend): Promise<TrainingBackend> {
  if (prefer !== undefined) return setBackend(prefer);
  chosen ??= pickBackend();
  return chosen;
}

async function pickBackend(): Promise<TrainingBackend> {
  for (const name of nativeModules) {
    try {
      await import(/* @vite-ignore */ name);
      if (await tf.setBackend('tensorflow')) return 'tensorflow';
    } catch {
      // not installed here: try the next one
    }
  }
  for (const name of ['wasm', 'cpu'] as const) {
    try {
      if (await tf.setBackend(name)) return name;
    } catch {
      // fall through
    }
  }
  throw new Error('no tfjs backend could be initialised (tried tensorflow, wasm, cpu)');
}

async function setBackend(name: TrainingBackend): Promise<TrainingBackend> {
  if (name === 'tensorflow') {
    const got = await pickBackend();
    if (got === 'tensorflow') return got;
    throw new TrainingError(
      'backend_unavailable',
      `backend 'tensorflow' requested, expected tfjs-node installed`,
    );
  }
  if (tf.getBackend() === name) return name;
  if (!(await tf.setBackend(name))) {
    throw new TrainingError('backend_unavailable', `backend '${name}' failed to initialise`);
  }
  await tf.ready();
  return name;
}
