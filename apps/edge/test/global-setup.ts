// Runs in Node before the workerd tests: builds tiny tfjs heads, writes them through the head artifact writer,
// and provides the files (base64) plus tfjs reference outputs to the tests via `inject`; creates the test
// database behind the HYPERDRIVE binding (vitest.config.ts) with deployments of the alias `mirrored`.
import { type FeatureSetIdentity, type FeatureSetRecord, featureSetKey } from '@edgehead/contracts';
import { createDataset, createRun, ensureFeatureSet, recordDeployment, registerModel } from '@edgehead/db';
import { connect } from '@edgehead/db/node';
import { createTestDatabase } from '@edgehead/db/testing';
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
  /** `v1`'s head with an `edgehead-head/1` manifest, as heads published before feature-set records have. */
  legacy: Fixture;
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtures: Fixtures;
    /** KEY_LIMITER's limit in the tests (vitest.config.ts), per API key per 60 s. */
    rateLimit: number;
    /** The database behind HYPERDRIVE: deployments v1 (active) and v2 of the alias `mirrored`. */
    databaseUrl: string;
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

const testnet: FeatureSetIdentity = {
  backbone: 'testnet',
  weights: { sha256: 'e'.repeat(64), source: '/weights/testnet' },
  pooling: 'none',
  preprocessing: 'rescale',
  inputSize: [8, 8],
  featureLayer: 'out',
  featureShape: [2, 2, 4],
  provenance: null,
};
/** The feature set of the test heads: `testnet` vectors of 2x2x4 (the fake gpu service computes them). */
const TESTNET: FeatureSetRecord = {
  ...testnet,
  id: '00000000-0000-4000-8000-0000000000f5',
  key: featureSetKey(testnet),
  createdAt: new Date(0).toISOString(),
};

/** `f` with its manifest rewritten as `edgehead-head/1` (same head files and checksums). */
function asLegacy(f: Fixture): Fixture {
  const { featureSet, ...rest } = JSON.parse(
    Buffer.from(f.files['manifest.json'], 'base64').toString('utf8'),
  );
  const v1 = {
    ...rest,
    format: 'edgehead-head/1',
    backbone: featureSet.backbone,
    preprocessing: featureSet.preprocessing,
  };
  return { ...f, files: { ...f.files, 'manifest.json': Buffer.from(JSON.stringify(v1)).toString('base64') } };
}

/** A migrated test database holding two registered models deployed as `mirrored` v1 (active) and v2. */
async function deploymentsDatabase(manifests: Fixture[]) {
  const database = await createTestDatabase();
  const client = await connect({ url: database.url });
  try {
    const { db } = client;
    const dataset = await createDataset(db, { name: 'mirror', classes: ['cats', 'dogs'] });
    const featureSet = await ensureFeatureSet(db, testnet);
    for (const [i, f] of manifests.entries()) {
      const run = await createRun(db, {
        datasetId: dataset.id,
        featureSetId: featureSet.id,
        config: {},
        epochsTotal: 1,
      });
      const model = await registerModel(db, {
        runId: run.id,
        name: 'mirrored',
        manifest: JSON.parse(Buffer.from(f.files['manifest.json'], 'base64').toString('utf8')),
        artifactSha256: 'd'.repeat(64),
        files: [{ path: 'model.json', sha256: 'c'.repeat(64), data: new Uint8Array([1]) }],
      });
      await recordDeployment(db, {
        modelId: model.id,
        alias: 'mirrored',
        edgeVersion: `v${i + 1}`,
        active: i === 0,
      });
    }
  } finally {
    await client.close();
  }
  return database;
}

export default async function setup(project: TestProject) {
  await tf.setBackend('cpu');
  const binary: HeadManifestFields = {
    featureSet: TESTNET,
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
  const [v1, v2] = [
    await fixture(recipe(1), binary, 11),
    await fixture(recipe(2), { ...binary, threshold: 0.25 }, 12),
  ];
  const database = await deploymentsDatabase([v1, v2]);
  // miniflare refuses a Hyperdrive URL without a password; the test databases ignore it (trust auth)
  const url = new URL(database.url);
  if (!url.password) url.password = 'postgres';
  project.provide('databaseUrl', url.toString());
  project.provide('fixtures', {
    v1,
    v2,
    multi: await fixture(
      multiModel,
      {
        ...binary,
        featureSet: { ...TESTNET, featureShape: [6] },
        featureShape: [6],
        task: 'multiclass',
        classes: ['cat', 'dog', 'fox'],
        threshold: null,
      },
      13,
    ),
    legacy: asLegacy(v1),
  });
  return () => database.drop();
}
