// Augmented extractions: k seeded copies of every training image through the frozen base, as their own
// feature set; validation and test images are never augmented.
import { augmentImage, decodeImage } from '@edgehead/backbones';
import { augmentationConfig } from '@edgehead/contracts';
import { getFeatureSet, schema } from '@edgehead/db';
import { and, eq } from 'drizzle-orm';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../deps.ts';
import { auth, form, image, useTestApp } from '../test-support.ts';
import { batchStates, extract, whenSettled } from './testing.ts';
import { registerExtractionWorker } from './worker.ts';

const ctx = useTestApp({ EDGEHEAD_EXTRACT_BATCH: '3', EDGEHEAD_EXTRACT_RETRY_DELAY: '0' });

async function withWorkers<T>(deps: AppDeps, f: () => Promise<T>): Promise<T> {
  const workers = await registerExtractionWorker(deps);
  try {
    return await f();
  } finally {
    for (const w of workers) await deps.queue.boss.offWork({ id: w });
  }
}

/** A dataset with `train` training, 2 validation and 2 test images; their ids and bytes by split. */
async function splitDataset(name: string, train: number) {
  const t = ctx();
  const res = await t.app.request('/v1/datasets', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name, classes: ['cats', 'dogs'] }),
  });
  const { id } = (await res.json()) as { id: string };
  const names = [
    ...Array.from({ length: train }, (_, i) => `train/${i % 2 ? 'dogs' : 'cats'}/${i}.jpg`),
    'validation/cats/v0.jpg',
    'validation/dogs/v1.jpg',
    'test/cats/t0.jpg',
    'test/dogs/t1.jpg',
  ];
  const files = await Promise.all(names.map(async (n, i) => ({ name: n, data: await image(500 + i) })));
  const up = await t.app.request(`/v1/datasets/${id}/images`, {
    method: 'POST',
    headers: auth,
    body: form(files),
  });
  const body = (await up.json()) as { files: { imageId: string }[] };
  const rows = body.files.map((f, i) => ({
    id: f.imageId,
    split: names[i]?.split('/')[0] as string,
    data: files[i]?.data,
  }));
  return { id, rows };
}

async function rowsOf(deps: AppDeps, featureSetId: string) {
  return deps.db
    .select({ imageId: schema.features.imageId, copy: schema.features.copy, vector: schema.features.vector })
    .from(schema.features)
    .where(eq(schema.features.featureSetId, featureSetId));
}

describe('augmented extraction', () => {
  it('refuses bad augment configs with a 400 naming the field', async () => {
    const t = ctx();
    const { id } = await splitDataset('aug-bad', 2);
    for (const [augment, field] of [
      [{ copies: 0 }, 'augment.copies'],
      [{ copies: 51 }, 'augment.copies'],
      [{ copies: 2, brightness: 0.3 }, 'augment.brightness'],
      [{ preset: 'nope' }, 'augment.preset'],
      [
        { rotation: 0, widthShift: 0, heightShift: 0, shear: 0, zoom: 0, horizontalFlip: false },
        'augment.rotation',
      ],
    ] as const) {
      const answer = await extract(t, id, { augment }, 400);
      expect(answer.error?.details?.field, JSON.stringify(answer.error)).toBe(field);
    }
    expect(await batchStates(t)).toEqual({});
  });

  it('stores k seeded copies of every training image only, beside the plain vectors, and a repost adds nothing', async () => {
    const t = ctx();
    const train = 5;
    const copies = 3;
    const { id, rows } = await splitDataset('aug-rows', train);
    const first = await extract(t, id, { augment: { copies, seed: 7 } });
    // the plain extraction covers all 9 images, the augmented one the 5 training images
    expect(first.base).toMatchObject({ total: train + 4, featureSet: { provenance: null } });
    expect(first.progress).toMatchObject({
      total: train,
      featureSet: {
        provenance: { kind: 'augmented', baseFeatureSetId: first.base?.featureSet.id },
      },
    });
    const params = augmentationConfig.parse(
      (first.progress.featureSet.provenance as { params: unknown }).params,
    );
    expect(params).toMatchObject({
      copies,
      seed: 7,
      rotation: 40,
      horizontalFlip: true,
      fillMode: 'nearest',
    });
    // batches of 3 images for the plain set; of 3 / 3 copies = 1 image (3 forward passes) for the augmented one
    expect(first).toMatchObject({ queuedImages: train + 4 + train, queuedJobs: 3 + train });

    await withWorkers(t.deps, async () => {
      await whenSettled(t, id, first.progress.id);
      await whenSettled(t, id, first.base?.id as string);
    });
    const augmented = await rowsOf(t.deps, first.progress.featureSet.id);
    const plain = await rowsOf(t.deps, first.base?.featureSet.id as string);
    const trainIds = new Set(rows.filter((r) => r.split === 'train').map((r) => r.id));
    expect(augmented).toHaveLength(copies * train);
    expect(augmented.every((r) => trainIds.has(r.imageId))).toBe(true);
    for (const imageId of trainIds) {
      expect(
        augmented
          .filter((r) => r.imageId === imageId)
          .map((r) => r.copy)
          .sort(),
      ).toEqual([0, 1, 2]);
    }
    expect(plain).toHaveLength(train + 4);
    expect(plain.every((r) => r.copy === 0)).toBe(true);

    // copy 2 of the first training image is the base's vector of augmentImage's copy 2 (its seed: the bytes' hash)
    const first0 = rows[0] as { id: string; data: Uint8Array };
    const fs = await getFeatureSet(t.deps.db, first.progress.featureSet.id);
    const extractor = await t.deps.extractors.forFeatureSet(fs);
    const decoded = await decodeImage(first0.data, extractor.info.inputSize);
    const [image0] = await t.deps.sql<
      { sha256: string }[]
    >`select sha256 from images where id = ${first0.id}`;
    const pictures = augmentImage(decoded.pixels, extractor.info.inputSize, params, image0?.sha256 as string);
    const [expected] = await extractor.extract([pictures[2] as Uint8Array]);
    const [stored] = await t.deps.db
      .select({ vector: schema.features.vector })
      .from(schema.features)
      .where(
        and(
          eq(schema.features.imageId, first0.id),
          eq(schema.features.featureSetId, fs.id),
          eq(schema.features.copy, 2),
        ),
      );
    const values = new Float32Array(new Uint8Array(stored?.vector ?? []).slice().buffer);
    expect(Array.from(values)).toEqual(Array.from(expected as Float32Array));
    const original = plain.find((r) => r.imageId === first0.id);
    expect(Buffer.from(stored?.vector ?? []).equals(Buffer.from(original?.vector ?? []))).toBe(false);

    // idempotent: the same request answers the same extractions and queues nothing
    const jobsBefore = await batchStates(t);
    const again = await extract(t, id, { augment: { seed: 7, copies } });
    expect(again).toMatchObject({
      queuedImages: 0,
      queuedJobs: 0,
      progress: { id: first.progress.id, state: 'done', done: train },
      base: { id: first.base?.id, state: 'done' },
    });
    expect(await batchStates(t)).toEqual(jobsBefore);
    expect(await rowsOf(t.deps, fs.id)).toHaveLength(copies * train);

    // an image's own features are the base's: /v1/features refuses the augmented set, naming its base
    const features = await t.app.request(`/v1/features?featureSet=${fs.id}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: first0.data as Uint8Array<ArrayBuffer>,
    });
    expect(features.status).toBe(400);
    expect(await features.json()).toMatchObject({
      error: { details: { field: 'featureSet', baseFeatureSetId: first.base?.featureSet.id } },
    });

    // another seed is another feature set
    const other = await extract(t, id, { augment: { seed: 8, copies } });
    expect(other.progress.featureSet.id).not.toBe(fs.id);
    expect(other.queuedImages).toBe(train);
  });

  it('renders the copies of a few training images as a picture, exactly the pixels the base saw', async () => {
    const t = ctx();
    const { id, rows } = await splitDataset('aug-samples', 3);
    const started = await extract(t, id, { augment: { copies: 4, seed: 3 } });
    const get = (extraction: string, query = '') =>
      t.app.request(`/v1/extractions/${extraction}/samples${query}`);
    const res = await get(started.progress.id, '?images=2&copies=3');
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const ids = (res.headers.get('x-edgehead-images') ?? '').split(',');
    const trainIds = rows
      .filter((r) => r.split === 'train')
      .map((r) => r.id)
      .sort();
    expect(ids).toEqual(trainIds.slice(0, 2));
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    // 2 rows x (original + 3 copies) of 16x16 cells, 2 px apart
    expect([info.width, info.height, info.channels]).toEqual([4 * 16 + 3 * 2, 2 * 16 + 2, 3]);
    const cell = (row: number, col: number) => {
      const out = new Uint8Array(16 * 16 * 3);
      for (let y = 0; y < 16; y++) {
        const from = ((row * 18 + y) * info.width + col * 18) * 3;
        out.set(data.subarray(from, from + 16 * 3), y * 16 * 3);
      }
      return out;
    };
    const second = rows.find((r) => r.id === ids[1]) as { data: Uint8Array };
    const [meta] = await t.deps.sql<
      { sha256: string }[]
    >`select sha256 from images where id = ${ids[1] as string}`;
    const params = augmentationConfig.parse(
      (started.progress.featureSet.provenance as { params: unknown }).params,
    );
    const decoded = await decodeImage(second.data, [16, 16]);
    const copies = augmentImage(decoded.pixels, [16, 16], params, meta?.sha256 as string);
    expect(Buffer.from(cell(1, 0)).equals(Buffer.from(decoded.pixels))).toBe(true);
    expect(Buffer.from(cell(1, 2)).equals(Buffer.from(copies[1] as Uint8Array))).toBe(true);
    expect(Buffer.from(cell(1, 2)).equals(Buffer.from(decoded.pixels))).toBe(false);

    const jpeg = await get(started.progress.id, '?format=jpeg&scale=2&images=1&copies=1');
    expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata()).width).toBe(2 * (2 * 16 + 2));

    const plain = await get(started.base?.id as string);
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'id',
    );
    const bad = await get(started.progress.id, '?images=0');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'images',
    );
    expect((await get('00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('answers the plain extraction for a backbone query, and a cancel by backbone stops the augmented one too', async () => {
    const t = ctx();
    const { id } = await splitDataset('aug-cancel', 4);
    const started = await extract(t, id, { augment: { copies: 2 } });
    const byBackbone = await t.app.request(`/v1/datasets/${id}/extract?backbone=tiny`);
    expect(((await byBackbone.json()) as { id: string }).id).toBe(started.base?.id);
    const res = await t.app.request(`/v1/datasets/${id}/extract/cancel`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ backbone: 'tiny' }),
    });
    const body = (await res.json()) as { cancelled: { id: string }[]; droppedJobs: number };
    expect(body.cancelled.map((e) => e.id).sort()).toEqual([started.progress.id, started.base?.id].sort());
    expect(body.droppedJobs).toBe(started.queuedJobs);
  });
});
