// Runs in Node before the workerd tests: builds tiny tfjs heads, writes them through the head artifact writer,
// and provides the files (base64) plus tfjs reference outputs to the tests via `inject`.
import {
  type HeadArtifactFiles,
  type HeadManifestFields,
  type TfjsModelArtifacts,
  writeHeadArtifact,
} from '@edgehead/head';
import * as tf from '@tensorflow/tfjs';
import type { TestProject } from 'vitest/node';

export interface Fixture {
  files: Record<keyof HeadArtifactFiles, string>;
  /** A batch of inputs (rows x d) and tfjs `model.predict` on it. */
  inputs: number[][];
  expected: number[][];
}

export interface Fixtures {
  v1: Fixture;
  v2: Fixture;
  multi: Fixture;
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtures: Fixtures;
    /** KEY_LIMITER's limit in the tests (vitest.config.ts), per API key per 60 s. */
    rateLimit: number;
  }
}

async function save(model: tf.LayersModel): Promise<TfjsModelArtifacts> {
  let saved: TfjsModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved as TfjsModelArtifacts;
}

async function fixture(model: tf.LayersModel, fields: HeadManifestFields, seed: number): Promise<Fixture> {
  const files = await writeHeadArtifact(await save(model), fields);
  const x = tf.randomUniform([4, ...fields.featureShape], -1, 1, 'float32', seed);
  const y = model.predict(x) as tf.Tensor;
  const d = fields.featureShape.reduce((a, b) => a * b, 1);
  const fixture: Fixture = {
    files: {
      'manifest.json': Buffer.from(files['manifest.json']).toString('base64'),
      'model.json': Buffer.from(files['model.json']).toString('base64'),
      'weights.bin': Buffer.from(files['weights.bin']).toString('base64'),
    },
    inputs: x.reshape([4, d]).arraySync() as number[][],
    expected: y.arraySync() as number[][],
  };
  tf.dispose([x, y]);
  return fixture;
}

function recipe(seed: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [2, 2, 4] }),
      tf.layers.dense({
        units: 8,
        activation: 'relu',
        kernelInitializer: tf.initializers.randomNormal({ seed, stddev: 1 }),
        biasInitializer: 'ones',
      }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 1 }),
      }),
    ],
  });
}

export default async function setup(project: TestProject) {
  await tf.setBackend('cpu');
  const binary: HeadManifestFields = {
    backbone: 'testnet',
    preprocessing: 'rescale',
    featureShape: [2, 2, 4],
    task: 'binary',
    classes: ['cats', 'dogs'],
    threshold: 0.5,
  };
  const multiModel = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [6],
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.randomNormal({ seed: 9, stddev: 2 }),
      }),
    ],
  });
  project.provide('fixtures', {
    v1: await fixture(recipe(1), binary, 11),
    v2: await fixture(recipe(2), { ...binary, threshold: 0.25 }, 12),
    multi: await fixture(
      multiModel,
      { ...binary, featureShape: [6], task: 'multiclass', classes: ['cat', 'dog', 'fox'], threshold: null },
      13,
    ),
  });
}
