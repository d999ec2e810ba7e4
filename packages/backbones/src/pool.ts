import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '@edgehead/workers';
import { checkAugmentKeys } from './augment.ts';
import type { InitBackendOptions } from './backend.ts';
import { BackboneError, type BackboneErrorCode } from './errors.ts';
import type { ExtractOptions, FeatureExtractor, ResolvedBackbone } from './load.ts';
import { type BackboneConfigInput, parseBackboneConfig } from './models/registry.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

/** File name of the bundled worker entry that `defaultWorkerUrl` expects beside a bundle. */
export const BUNDLED_WORKER_FILE = 'backbones-worker.js';

/**
 * Where the worker entry lives. From source (tsx, vitest) it is `./worker.ts` beside this file.
 * Bundled (esbuild), `import.meta.url` is the bundle, so the worker must be built as a second entry
 * point named `backbones-worker.js` in the same folder:
 * `esbuild src/main.ts node_modules/@edgehead/backbones/src/worker.ts --entry-names=...` or pass
 * `workerUrl` explicitly.
 */
export function defaultWorkerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./worker.ts', import.meta.url)
    : new URL(`./${BUNDLED_WORKER_FILE}`, import.meta.url);
}

/** Options of `createExtractorPool`. */
export interface PoolOptions {
  /** Worker threads (default: available cores). */
  size?: number;
  /** Worker entry; default `defaultWorkerUrl()`. */
  workerUrl?: URL;
  /** Backend choice inside workers (default: wasm, then cpu: the pool exists for single-threaded backends). */
  backend?: InitBackendOptions;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (f: Float32Array[]) => void; reject: (e: Error) => void }>;
  dead: Error | undefined;
}

function toError(e: { code: string; message: string }): BackboneError {
  return new BackboneError(e.code as BackboneErrorCode, e.message);
}

/**
 * Feature extraction split across worker threads, each with its own backend and model copy; the
 * output equals a single `Backbone`'s, in input order.
 */
export class ExtractorPool implements FeatureExtractor {
  private nextId = 0;

  private constructor(
    readonly info: ResolvedBackbone,
    readonly backend: string,
    private readonly slots: Slot[],
  ) {}

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  /** Starts `size` workers and waits until each has loaded and warmed up its model. */
  static async create(input: BackboneConfigInput, options: PoolOptions = {}): Promise<ExtractorPool> {
    const config = parseBackboneConfig(input);
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new BackboneError('invalid_config', `pool size ${size}, expected an integer >= 1`);
    }
    const url = options.workerUrl ?? defaultWorkerUrl();
    const backend = options.backend ?? { prefer: ['wasm', 'cpu'] };
    const slots: Slot[] = [];
    const ready: Promise<{ info: ResolvedBackbone; backend: string }>[] = [];
    for (let i = 0; i < size; i++) {
      const worker = startWorker(url, { config, backend });
      const slot: Slot = { worker, pending: new Map(), dead: undefined };
      slots.push(slot);
      ready.push(
        new Promise((resolve, reject) => {
          const fail = (err: Error) => {
            slot.dead = err;
            reject(err);
            for (const p of slot.pending.values()) p.reject(err);
            slot.pending.clear();
          };
          worker.on('message', (msg: FromWorker) => {
            if (msg.type === 'ready') resolve({ info: msg.info, backend: msg.backend });
            else if (msg.type === 'init-failed') fail(toError(msg.error));
            else {
              const p = slot.pending.get(msg.id);
              slot.pending.delete(msg.id);
              if (msg.type === 'result') p?.resolve(msg.features);
              else p?.reject(toError(msg.error));
            }
          });
          worker.on('error', (cause) =>
            fail(
              new BackboneError('worker_failed', `backbone worker ${i} crashed: ${cause.message}`, { cause }),
            ),
          );
          worker.on('exit', (code) =>
            fail(new BackboneError('worker_failed', `backbone worker ${i} exited with code ${code}`)),
          );
        }),
      );
    }
    try {
      const started = await Promise.all(ready);
      const first = started[0] as { info: ResolvedBackbone; backend: string };
      return new ExtractorPool(first.info, first.backend, slots);
    } catch (err) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw err;
    }
  }

  async extract(images: readonly Uint8Array[], options: ExtractOptions = {}): Promise<Float32Array[]> {
    const n = images.length;
    if (n === 0) return [];
    const { augment } = options;
    // checked here: a worker sees only its share of the keys
    checkAugmentKeys(n, augment);
    const parts = Math.min(this.slots.length, n);
    const jobs: Promise<Float32Array[]>[] = [];
    for (let k = 0; k < parts; k++) {
      const [from, to] = [Math.floor((k * n) / parts), Math.floor(((k + 1) * n) / parts)];
      const share = augment ? { augment: { ...augment, keys: augment.keys.slice(from, to) } } : {};
      jobs.push(this.send(this.slots[k] as Slot, images.slice(from, to), share));
    }
    return (await Promise.all(jobs)).flat();
  }

  private send(slot: Slot, images: Uint8Array[], options: ExtractOptions): Promise<Float32Array[]> {
    if (slot.dead !== undefined) return Promise.reject(slot.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'extract', id, images, options };
      slot.worker.postMessage(msg);
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        s.worker.removeAllListeners('exit');
        s.worker.removeAllListeners('error');
        await s.worker.terminate();
      }),
    );
  }
}

/** Starts an `ExtractorPool`; see `PoolOptions`. */
export function createExtractorPool(
  input: BackboneConfigInput,
  options: PoolOptions = {},
): Promise<ExtractorPool> {
  return ExtractorPool.create(input, options);
}
