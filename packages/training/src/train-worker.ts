// Entry of one training worker thread: its own tfjs backend (wasm has no usable threads here) and one
// HeadShard. Spawned by ParallelEngine; see parallel-engine.ts for how this file is found under tsx and
// in a bundle.
import { parentPort, workerData } from 'node:worker_threads';
// tfjs-core and one backend only: the full '@tensorflow/tfjs' (layers, converter, data) takes seconds to load.
import * as tf from '@tensorflow/tfjs-core';
import type { TrainingBackend } from './backend.ts';
import type { PassMetrics } from './engine.ts';
import { markFailed, SharedExchange } from './exchange.ts';
import { HeadShard } from './shard.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';

/** Registers and selects the backend the main thread runs ('wasm' or 'cpu'). */
async function initBackend(name: TrainingBackend): Promise<TrainingBackend> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else throw new Error(`backend '${name}' in a training worker, expected 'wasm' or 'cpu'`);
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to initialise in a worker`);
  await tf.ready();
  return name;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('train-worker.ts must run as a worker thread');
  const init = workerData as WorkerInit;
  const post = (msg: FromWorker) => port.postMessage(msg);
  const fail = (error: unknown) => {
    markFailed(init.exchange);
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  };
  let shard: HeadShard;
  let backend: WorkerInit['backend'];
  try {
    backend = await initBackend(init.backend);
    shard = new HeadShard(init.shard);
  } catch (error) {
    fail(error);
    return;
  }
  const exchange = new SharedExchange(init.exchange, init.index);
  const { batchSize } = init.shard.config;

  // The whole epoch runs synchronously: the shards meet at a barrier every step, and the main thread's
  // stop request arrives through shared memory, read by shard 0 before each step.
  const epoch = (order: Int32Array): PassMetrics | null => {
    const n = order.length;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(start + batchSize, n);
      const wantStop = init.index === 0 && exchange.stopRequested();
      const stats = shard.step(order, start, end, exchange, wantStop);
      if (!stats) return null;
      lossSum += stats.loss * (end - start);
      correct += stats.correct;
    }
    return { loss: lossSum / n, accuracy: correct / n };
  };

  port.on('message', (msg: ToWorker) => {
    try {
      switch (msg.type) {
        case 'epoch':
          post({ type: 'result', value: epoch(msg.order) });
          return;
        case 'evaluate':
          post({ type: 'result', value: shard.evaluate(exchange) });
          return;
        case 'snapshot':
          shard.snapshot();
          post({ type: 'result', value: null });
          return;
        case 'restore':
          shard.restore();
          post({ type: 'result', value: null });
          return;
        case 'weights':
          post({ type: 'result', value: shard.weights() });
          return;
      }
    } catch (error) {
      fail(error);
    }
  });
  post({ type: 'ready', backend });
}

void main();
