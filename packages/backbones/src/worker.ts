// Entry of one pool worker thread: its own tfjs backend (wasm has no usable threads here) and its own
// model copy. Spawned by ExtractorPool; see pool.ts for how this file is located under tsx and in a bundle.
import { parentPort, workerData } from 'node:worker_threads';
import type { InitBackendOptions } from './backend.ts';
import { isBackboneError } from './errors.ts';
import { type Backbone, loadBackbone } from './load.ts';
import type { BackboneConfig } from './models/registry.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

function errorOf(err: unknown): { code: string; message: string } {
  if (isBackboneError(err)) return { code: err.code, message: err.message };
  return { code: 'worker_failed', message: err instanceof Error ? err.message : String(err) };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.ts must run as a worker thread');
  const { config, backend } = workerData as { config: BackboneConfig; backend: InitBackendOptions };
  const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  let backbone: Backbone;
  try {
    backbone = await loadBackbone(config, { backend });
  } catch (err) {
    post({ type: 'init-failed', error: errorOf(err) });
    return;
  }
  post({ type: 'ready', info: backbone.info, backend: backbone.backend });
  let queue = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      queue = queue.then(async () => {
        await backbone.dispose();
        port.close();
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        const features = await backbone.extract(msg.images, msg.options);
        post(
          { type: 'result', id: msg.id, features },
          features.map((f) => f.buffer as ArrayBuffer),
        );
      } catch (err) {
        post({ type: 'failed', id: msg.id, error: errorOf(err) });
      }
    });
  });
}

void main();
