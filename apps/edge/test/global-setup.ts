// Runs in Node before the workerd tests: builds tiny tfjs heads, writes them through the head artifact writer,
// and provides the files (base64) plus tfjs reference outputs to the tests via `inject`; creates the test
// database behind the HYPERDRIVE binding (vitest.config.ts), through a proxy that the tests can make refuse,
// hang or drop connections (db-proxy.ts), with deployments v1 (active) and v2 of every alias in
// DEPLOYED_ALIASES.
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
import { startDbProxy } from './db-proxy.ts';

/** Aliases whose versions v1 (active) and v2 the test database records as deployments. */
export const DEPLOYED_ALIASES = ['mirrored', 'offline-refuse', 'offline-hang', 'offline-drop'] as const;

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
    /** The Cloudflare Access team and application of the tests, and the private key its JWKS serves. */
    access: { team: string; audience: string; privateJwk: Record<string, unknown> };
    /** HYPERDRIVE's database (through the proxy): deployments v1 (active) and v2 of DEPLOYED_ALIASES. */
    databaseUrl: string;
    /** Control server of the database proxy (db-proxy.ts), reached from the tests as http://db-proxy.test. */
    dbProxy: string;
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
  const { files } = await writeHeadArtifact(await save(model), fields);
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

/** A migrated test database: per alias, two registered models deployed as v1 (active) and v2. */
async function deploymentsDatabase(manifests: Fixture[]) {
  const database = await createTestDatabase();
  const client = await connect({ url: database.url });
  try {
    const { db } = client;
    const dataset = await createDataset(db, { name: 'mirror', classes: ['cats', 'dogs'] });
    const featureSet = await ensureFeatureSet(db, testnet);
    for (const alias of DEPLOYED_ALIASES) {
      for (const [i, f] of manifests.entries()) {
        const run = await createRun(db, {
          datasetId: dataset.id,
          featureSetId: featureSet.id,
          config: {},
          epochsTotal: 1,
        });
        const model = await registerModel(db, {
          runId: run.id,
          name: alias,
          manifest: JSON.parse(Buffer.from(f.files['manifest.json'], 'base64').toString('utf8')),
          artifactSha256: 'd'.repeat(64),
          files: [{ path: 'model.json', sha256: 'c'.repeat(64), data: new Uint8Array([1]) }],
        });
        await recordDeployment(db, { modelId: model.id, alias, edgeVersion: `v${i + 1}`, active: i === 0 });
      }
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
  // v1 and v2 name their training run, as the gpu service's heads do (switches to them are mirrored into
  // Postgres); `multi` does not, as a head published by another tool
  const [v1, v2] = [
    await fixture(recipe(1), { ...binary, runId: 'run-v1' }, 11),
    await fixture(recipe(2), { ...binary, threshold: 0.25, runId: 'run-v2' }, 12),
  ];
  const database = await deploymentsDatabase([v1, v2]);
  // miniflare refuses a Hyperdrive URL without a password; the test databases ignore it (trust auth)
  const url = new URL(database.url);
  if (!url.password) url.password = 'postgres';
  const proxy = await startDbProxy(url.toString());
  project.provide('databaseUrl', proxy.url);
  project.provide('dbProxy', proxy.control);
  ignoreHyperdriveProxySocketErrors();
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
  return async () => {
    await proxy.close();
    await database.drop();
  };
}

const PEER_GONE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Miniflare's local Hyperdrive proxy (miniflare 4.20260426, in this Node process) pipes sockets without an
 * 'error' listener, so a refused database connection, or workerd resetting one when a test file's Durable
 * Objects are torn down, is an uncaught exception that ends the whole run (cloudflare/workers-sdk#15768).
 * Those socket errors are logged instead, until the process exits (workerd goes away after this teardown);
 * any other uncaught exception still ends the run.
 */
function ignoreHyperdriveProxySocketErrors(): void {
  const onUncaught = (err: NodeJS.ErrnoException) => {
    if (PEER_GONE.has(err.code ?? '') && ['connect', 'read', 'write'].includes(err.syscall ?? '')) {
      console.warn(`miniflare hyperdrive proxy: ${err.message} (ignored, workers-sdk#15768)`);
      return;
    }
    process.off('uncaughtException', onUncaught);
    throw err;
  };
  process.on('uncaughtException', onUncaught);
}
