import type { ExtractOptions, ResolvedBackbone } from './load.ts';

/** Messages from the pool to a worker. */
export type ToWorker =
  | { type: 'extract'; id: number; images: Uint8Array[]; options: ExtractOptions }
  | { type: 'close' };

/** Messages from a worker to the pool. */
export type FromWorker =
  | { type: 'ready'; info: ResolvedBackbone; backend: string }
  | { type: 'init-failed'; error: { code: string; message: string } }
  | { type: 'result'; id: number; features: Float32Array[] }
  | { type: 'failed'; id: number; error: { code: string; message: string } };
