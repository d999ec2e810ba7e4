// Fine-tuning runs end to end on a tiny two-layer backbone the test writes: request checks, the worker
// (epochs, evaluation, the stored weights, the new feature set and its vectors, the head's manifest), what
// /v1/features serves for that feature set, cancel and a restarted attempt.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  decodeImage,
  initBackend,
  loadBackbone,
  saveLayersModelFolder,
  splitBackbone,
} from '@edgehead/backbones';
import {
  ApiError,
  augmentationConfig,
  type ExtractResponse,
  FEATURE_HEADERS,
  fineTuneRunRequest,
  type RunDetailResponse,
} from '@edgehead/contracts';
import {
  cancelRun,
  EXTRACTION_QUEUE,
  type ExtractionBatch,
  getFeatureSet,
  getModelFiles,
  getRun,
  getRunModel,
  loadAugmentedCopies,
  loadFeatureMatrix,
  startRun,
} from '@edgehead/db';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runExtractJob } from '../extraction/worker.ts';
import { registryFromEnv } from '../services.ts';
import { auth, form, useTestApp } from '../test-support.ts';
import { activationsOf } from './finetune.ts';
import { startFineTuneRun } from './finetune-start.ts';
import { trainRun } from './train.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const env: Record<string, string> = {};
let weightsDir = '';

// Registered before useTestApp's hook, so the backbone exists when the app reads its configuration.
beforeAll(async () => {
  await initBackend();
  weightsDir = await mkdtemp(path.join(tmpdir(), 'edgehead-ft-'));
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  const init = (seed: number) => tf.initializers.randomUniform({ minval: -0.4, maxval: 0.4, seed });
  const conv1 = tf.layers
    .conv2d({
      name: 'conv1',
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(3),
    })
    .apply(input) as tf.SymbolicTensor;
  const out = tf.layers
    .conv2d({
      name: 'features',
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(4),
    })
    .apply(conv1) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const folder = path.join(weightsDir, 'two');
  await saveLayersModelFolder(model, folder);
  model.dispose();
  env.EDGEHEAD_BACKBONES = JSON.stringify([{ name: 'two', weights: folder, preprocessing: 'rescale' }]);
  env.EDGEHEAD_DEFAULT_BACKBONE = 'two';
});
const ctx = useTestApp(env);

/** A 16x16 PNG: class 0 horizontal stripes, class 1 vertical ones, both with seeded noise. */
async function stripes(label: 0 | 1, seed: number): Promise<Uint8Array> {
  const raw = Buffer.alloc(16 * 16 * 3);
  let s = seed * 2654435761 + 1;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const on = (label === 0 ? y : x) % 4 < 2;
      const v = Math.max(0, Math.min(255, (on ? 132 : 108) + ((s >>> 24) - 128) * 0.8));
      for (let c = 0; c < 3; c++) raw[(y * 16 + x) * 3 + c] = v;
    }
  }
  return new Uint8Array(
    await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

async function post(pathname: string, body: unknown) {
  const res = await ctx().app.request(pathname, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { id: string } };
}

async function detail(id: string): Promise<RunDetailResponse> {
  return (await (await ctx().app.request(`/v1/runs/${id}`)).json()) as RunDetailResponse;
}

/** Works the queued extraction batches in this process. */
async function workExtractions(): Promise<void> {
  const t = ctx();
  for (;;) {
    const job = await t.deps.queue.boss.fetch<ExtractionBatch>(EXTRACTION_QUEUE);
    const next = job?.[0];
    if (!next) break;
    await runExtractJob(t.deps, next.data);
    await t.deps.queue.boss.complete(EXTRACTION_QUEUE, next.id);
  }
}

/** A succeeded head run on `stripes`: the test's small head settings, on `on` (a backbone or a feature set). */
async function headRun(on: { backbone: string } | { featureSet: string }, epochs: number): Promise<string> {
  const queued = await post('/v1/runs', {
    dataset: 'stripes',
    ...on,
    hiddenUnits: 8,
    dropout: 0,
    optimizer: 'adam',
    learningRate: 0.01,
    epochs,
    batchSize: 8,
    earlyStopping: null,
    seed: 1,
  });
  expect(queued.status, JSON.stringify(queued.body)).toBe(202);
  expect(await trainRun(ctx().deps.db, queued.body.id, { backend: 'cpu' })).toBe('succeeded');
  return queued.body.id;
}

let datasetId = '';
let headRunId = '';
let longerRunId = '';
let tunedRunId = '';

/**
 * Dataset `stripes` (train 48, validation 24, test 24), its `two` features, a short head run to start from
 * and a head-only run of as many epochs as both steps together, to compare with.
 */
beforeAll(async () => {
  const t = ctx();
  const created = await post('/v1/datasets', { name: 'stripes', classes: ['horizontal', 'vertical'] });
  datasetId = created.body.id;
  let seed = 1;
  for (const [split, n] of [
    ['train', 48],
    ['validation', 24],
    ['test', 24],
  ] as const) {
    const files = [];
    for (let i = 0; i < n; i++) {
      const label = (i % 2) as 0 | 1;
      files.push({
        name: `${split}/${label ? 'vertical' : 'horizontal'}/${seed}.png`,
        data: await stripes(label, seed++),
      });
    }
    const up = await t.app.request(`/v1/datasets/${datasetId}/images`, {
      method: 'POST',
      headers: auth,
      body: form(files),
    });
    expect(up.status).toBe(200);
  }
  const started = await post(`/v1/datasets/${datasetId}/extract`, { backbone: 'two' });
  expect(started.status).toBe(202);
  await workExtractions();
  headRunId = await headRun({ backbone: 'two' }, 4);
  longerRunId = await headRun({ backbone: 'two' }, 10);
});

describe('fine-tuning runs', () => {
  it('refuses an unknown layer and a layer below frozen ones, naming unfreeze[i]', async () => {
    const unknown = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: headRunId,
      unfreeze: ['features', 'nope'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ details: { field: 'unfreeze[1]' } });
    expect(JSON.stringify(unknown.body.error)).toContain('nope');
    const low = await post('/v1/runs', { kind: 'finetune', fromRun: headRunId, unfreeze: ['conv1'] });
    expect(low.status).toBe(400);
    expect(low.body.error).toMatchObject({ details: { field: 'unfreeze[0]' } });
    expect(JSON.stringify(low.body.error)).toContain('features');
    const empty = await post('/v1/runs', { kind: 'finetune', fromRun: headRunId, unfreeze: [] });
    expect(empty.status).toBe(400);
    expect(JSON.stringify(empty.body.error)).toContain('unfreeze');
    const missing = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: '00000000-0000-4000-8000-000000000000',
      unfreeze: ['features'],
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ details: { field: 'fromRun' } });
  });

  it('refuses a fine-tuning whose activations exceed EDGEHEAD_FINETUNE_MAX_BYTES, queueing nothing', async () => {
    const t = ctx();
    const runs = async () => (await t.deps.sql<{ n: number }[]>`select count(*)::int as n from runs`)[0]?.n;
    const before = await runs();
    // 96 images x the cut (conv1's 16x16x4 floats) = 393216 bytes
    const bounded = (maxActivationBytes: number) => ({
      ...t.deps,
      env: { ...t.deps.env, fineTune: { maxActivationBytes } },
    });
    const request = fineTuneRunRequest.parse({
      kind: 'finetune',
      fromRun: headRunId,
      unfreeze: ['features'],
    });
    const refused = await startFineTuneRun(bounded(393_215), request).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({
      status: 400,
      details: { field: 'fromRun', bytes: 393_216, limit: 393_215 },
    });
    expect((refused as Error).message).toMatch(/over EDGEHEAD_FINETUNE_MAX_BYTES/);
    expect(await runs()).toBe(before);
    const accepted = await startFineTuneRun(bounded(393_216), request);
    expect(accepted.status).toBe('queued');
    await cancelRun(t.deps.db, accepted.id);
  });

  it('trains the top and the head, stores the weights, a new feature set with its vectors and a head that names it', async () => {
    const t = ctx();
    const queued = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: headRunId,
      unfreeze: ['features'],
      learningRate: 0.003,
      optimizer: 'adam',
      epochs: 6,
      batchSize: 8,
      modelName: 'stripes-ft',
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body).toMatchObject({ kind: 'finetune', fromRunId: headRunId, epochsTotal: 6 });
    expect(queued.body.config).toMatchObject({
      learningRate: 0.003,
      layers: ['features'],
      unfreeze: ['features'],
    });
    const outcome = await trainRun(t.deps.db, queued.body.id, {
      backend: 'cpu',
      extractors: t.deps.extractors,
    });
    expect(outcome, (await getRun(t.deps.db, queued.body.id)).error ?? '').toBe('succeeded');

    const run = await detail(queued.body.id);
    expect(run.run.status).toBe('succeeded');
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.evaluations.map((e) => e.split).sort()).toEqual(['test', 'validation']);
    const head = await detail(headRunId);
    const valOf = (d: RunDetailResponse) => d.evaluations.find((e) => e.split === 'validation');
    // the head starts from the trained one (0.71 validation accuracy after its 4 epochs), not afresh
    expect(run.epochs[0]?.valAccuracy).toBeGreaterThanOrEqual(head.epochs.at(-1)?.valAccuracy ?? 1);
    // fine-tuning improves over the head alone trained for as many epochs in all (4 + 6 against 10)
    const longer = await detail(longerRunId);
    const testOf = (d: RunDetailResponse) => d.evaluations.find((e) => e.split === 'test')?.accuracy ?? 0;
    expect(run.epochs.at(-1)?.valLoss).toBeLessThan(longer.epochs.at(-1)?.valLoss ?? 0);
    expect(testOf(run)).toBeGreaterThan(testOf(longer));
    expect(valOf(run)?.accuracy).toBeGreaterThan(valOf(head)?.accuracy ?? 1);

    const row = await getRun(t.deps.db, queued.body.id);
    tunedRunId = row.id;
    const output = await getFeatureSet(t.deps.db, row.outputFeatureSetId as string);
    const base = await getFeatureSet(t.deps.db, row.featureSetId);
    expect(output.provenance).toMatchObject({
      kind: 'finetuned',
      baseFeatureSetId: base.id,
      params: { fromRun: headRunId, unfreeze: ['features'], learningRate: 0.003, epochs: 6 },
    });
    expect(output.weights.sha256).not.toBe(base.weights.sha256);
    expect(output.weights.source).toBe(`edgehead:backbone-weights/${output.weights.sha256}`);
    expect(output.featureShape).toEqual(base.featureShape);

    // the head's manifest names the new feature set: publishing it sends the edge there for features
    const model = await getRunModel(t.deps.db, row.id);
    expect(model?.manifest).toMatchObject({ featureSet: { id: output.id } });
    expect(model?.name).toBe('stripes-ft');
    expect((await getModelFiles(t.deps.db, model?.id as string)).map((f) => f.path)).toEqual([
      'manifest.json',
      'model.json',
      'weights.bin',
    ]);

    // a replica with an empty weights cache loads the stored weights from the database
    const replica = registryFromEnv(
      { ...t.deps.env, weightsCache: path.join(t.dir, 'replica-cache') },
      t.deps.db,
    );
    try {
      const tuned = await replica.forFeatureSet(output);
      const original = await loadBackbone({
        backbone: 'two',
        weights: path.join(weightsDir, 'two'),
        preprocessing: 'rescale',
      });
      const tunedModel = await loadBackbone(await replica.configFor(output));
      try {
        // only the unfrozen layer changed; conv1 is bit-identical
        const weightsOf = (m: tf.LayersModel | tf.GraphModel, layer: string) =>
          (m as tf.LayersModel)
            .getLayer(layer)
            .getWeights()
            .map((w) => Array.from(w.dataSync()));
        expect(weightsOf(tunedModel.model, 'conv1')).toEqual(weightsOf(original.model, 'conv1'));
        expect(weightsOf(tunedModel.model, 'features')).not.toEqual(weightsOf(original.model, 'features'));
      } finally {
        await original.dispose();
        await tunedModel.dispose();
      }

      // the stored vectors are a fresh extraction with the stored weights
      for (const split of ['train', 'validation', 'test'] as const) {
        const stored = await loadFeatureMatrix(t.deps.db, datasetId, output.id, split);
        const basis = await loadFeatureMatrix(t.deps.db, datasetId, base.id, split);
        expect(stored.imageIds).toEqual(basis.imageIds);
        const pixels = [];
        for (const id of stored.imageIds) {
          const [img] = await t.deps.sql<{ data: Uint8Array }[]>`
            select b.data from images i join image_blobs b on b.sha256 = i.sha256 where i.id = ${id}`;
          pixels.push((await decodeImage(img?.data as Uint8Array, tuned.info.inputSize)).pixels);
        }
        const fresh = await tuned.extract(pixels);
        const d = output.featureShape.reduce((a, b) => a * b, 1);
        fresh.forEach((v, i) => {
          const row = stored.data.subarray(i * d, (i + 1) * d);
          for (let k = 0; k < d; k++)
            expect(Math.abs((row[k] as number) - (v[k] as number))).toBeLessThan(1e-5);
        });
        // and not the base feature set's vectors
        expect(Array.from(stored.data)).not.toEqual(Array.from(basis.data));
      }

      // /v1/features?featureSet= computes an image no dataset holds with the fine-tuned weights
      const unseen = await stripes(1, 9999);
      const res = await t.app.request(`/v1/features?featureSet=${output.id}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'image/png' },
        body: unseen as Uint8Array<ArrayBuffer>,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get(FEATURE_HEADERS.stored)).toBe('0');
      expect(res.headers.get(FEATURE_HEADERS.featureSet)).toBe(output.id);
      const [expected] = await tuned.extract([(await decodeImage(unseen, tuned.info.inputSize)).pixels]);
      expect(new Float32Array(await res.arrayBuffer())).toEqual(expected);
    } finally {
      await replica.dispose();
    }
  });

  it('fine-tunes a fine-tuned run again, from the weights and the head it produced', async () => {
    const t = ctx();
    const first = await getRun(t.deps.db, tunedRunId);
    const queued = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: tunedRunId,
      unfreeze: ['features'],
      learningRate: 0.003,
      optimizer: 'adam',
      epochs: 2,
      batchSize: 8,
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body.featureSetId).toBe(first.outputFeatureSetId);
    const outcome = await trainRun(t.deps.db, queued.body.id, {
      backend: 'cpu',
      extractors: t.deps.extractors,
    });
    expect(outcome, (await getRun(t.deps.db, queued.body.id)).error ?? '').toBe('succeeded');
    const again = await getRun(t.deps.db, queued.body.id);
    const output = await getFeatureSet(t.deps.db, again.outputFeatureSetId as string);
    expect(output.provenance).toMatchObject({
      kind: 'finetuned',
      baseFeatureSetId: first.outputFeatureSetId,
    });
    expect(output.id).not.toBe(first.outputFeatureSetId);
  });

  it('stops between batches when cancelled and produces no feature set', async () => {
    const t = ctx();
    const queued = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: headRunId,
      unfreeze: ['features'],
      epochs: 50,
    });
    expect(queued.status).toBe(202);
    expect(queued.body.config).toMatchObject({ learningRate: 1e-5, batchSize: 20, optimizer: 'rmsprop' });
    const outcome = await trainRun(t.deps.db, queued.body.id, {
      backend: 'cpu',
      pollMs: 20,
      extractors: t.deps.extractors,
      afterEpoch: async (m) => {
        if (m.epoch === 1) await cancelRun(t.deps.db, queued.body.id);
        await new Promise((r) => setTimeout(r, 60));
      },
    });
    expect(outcome).toBe('cancelled');
    const row = await getRun(t.deps.db, queued.body.id);
    expect(row.status).toBe('cancelled');
    expect(row.outputFeatureSetId).toBeNull();
    expect((await detail(row.id)).epochs.length).toBeLessThan(50);
  });

  it('restarts an attempt that died from scratch and finishes it', async () => {
    const t = ctx();
    const queued = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: headRunId,
      unfreeze: ['features'],
      learningRate: 0.003,
      optimizer: 'adam',
      epochs: 6,
      batchSize: 8,
    });
    // an attempt that started and died (its worker killed): the retry starts the run again
    await startRun(t.deps.db, queued.body.id, { backend: 'cpu' });
    expect(await trainRun(t.deps.db, queued.body.id, { backend: 'cpu', extractors: t.deps.extractors })).toBe(
      'succeeded',
    );
    const row = await getRun(t.deps.db, queued.body.id);
    expect(row.attempts).toBe(2);
    // same seed, same data: the same weights as the first fine-tuning run, so the same feature set
    const first = (
      await t.deps.sql<{ id: string }[]>`
      select output_feature_set_id as id from runs where kind = 'finetune' and status = 'succeeded' order by created_at limit 1`
    )[0];
    expect(row.outputFeatureSetId).toBe(first?.id);
  });

  it('fine-tunes a head trained on an augmented feature set on its copies; everything else reads the plain set', async () => {
    const t = ctx();
    const extraction = await post(`/v1/datasets/${datasetId}/extract`, {
      backbone: 'two',
      augment: { copies: 2, seed: 3, rotation: 0, shear: 0, zoom: 0, widthShift: 0.1, heightShift: 0.1 },
    });
    expect(extraction.status, JSON.stringify(extraction.body)).toBe(202);
    await workExtractions();
    const augmentedId = (extraction.body as unknown as ExtractResponse).progress.featureSet.id;
    const headId = await headRun({ featureSet: augmentedId }, 4);
    const queued = await post('/v1/runs', {
      kind: 'finetune',
      fromRun: headId,
      unfreeze: ['features'],
      learningRate: 0.003,
      optimizer: 'adam',
      epochs: 3,
      batchSize: 8,
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body.featureSetId).toBe(augmentedId);
    const outcome = await trainRun(t.deps.db, queued.body.id, {
      backend: 'cpu',
      extractors: t.deps.extractors,
    });
    expect(outcome, (await getRun(t.deps.db, queued.body.id)).error ?? '').toBe('succeeded');
    const run = await detail(queued.body.id);
    expect(run.epochs).toHaveLength(3);
    expect(run.evaluations.map((e) => e.split).sort()).toEqual(['test', 'validation']);

    const plainId = (await getRun(t.deps.db, headRunId)).featureSetId;
    const output = await getFeatureSet(t.deps.db, run.run.outputFeatureSetId as string);
    expect(output.provenance).toMatchObject({
      kind: 'finetuned',
      baseFeatureSetId: plainId,
      params: { fromRun: headId, augmentedFeatureSetId: augmentedId, copies: 2 },
    });
    // one vector per image of every split (the copies trained; they are not stored)
    for (const split of ['train', 'validation', 'test'] as const) {
      const stored = await loadFeatureMatrix(t.deps.db, datasetId, output.id, split);
      const plain = await loadFeatureMatrix(t.deps.db, datasetId, plainId, split);
      expect(stored.imageIds).toEqual(plain.imageIds);
    }
    const model = await getRunModel(t.deps.db, queued.body.id);
    expect(model?.manifest).toMatchObject({ featureSet: { id: output.id } });

    // the copies it trained on are the extraction's: the untuned top over their activations (computed in
    // chunks of 5 images) gives the augmented feature set's stored vectors
    const plainSet = await getFeatureSet(t.deps.db, plainId);
    const backbone = await loadBackbone(await t.deps.extractors.configFor(plainSet));
    const split = splitBackbone(backbone.model as tf.LayersModel, ['features']);
    try {
      const ids = (await loadFeatureMatrix(t.deps.db, datasetId, plainId, 'train')).imageIds;
      const augment = augmentationConfig.parse(
        (await getFeatureSet(t.deps.db, augmentedId)).provenance?.params,
      );
      const at = { preprocessing: plainSet.preprocessing, inputSize: backbone.info.inputSize };
      const acts = (await activationsOf(t.deps.db, split, ids, at, { augment, chunk: 5 })) as Float32Array;
      const d = plainSet.featureShape.reduce((a, b) => a * b, 1);
      const stored = await loadAugmentedCopies(t.deps.db, augmentedId, ids, 2, d);
      const computed = tf.tidy(() =>
        (split.top.predict(tf.tensor(acts, [ids.length * 2, ...split.cutShape])) as tf.Tensor).dataSync(),
      );
      expect(computed).toHaveLength(stored.length);
      const worst = stored.reduce((m, v, i) => Math.max(m, Math.abs(v - (computed[i] as number))), 0);
      expect(worst).toBeLessThan(1e-5);
    } finally {
      split.dispose();
      await backbone.dispose();
    }
  });
});
