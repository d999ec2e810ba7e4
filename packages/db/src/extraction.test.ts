import { featureSetKey } from '@edgehead/contracts';
import { sql as dsql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  addImage,
  cancelExtractions,
  countFailedImages,
  createDataset,
  type Extraction,
  ensureFeatureSet,
  failExtraction,
  finishIfCovered,
  imagesStillMissing,
  imagesToQueue,
  inTransaction,
  listExtractions,
  markImageFailed,
  openExtraction,
  recordQueued,
  saveFeatures,
} from './index.ts';
import { fakeImage, testFeatureSet, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();
const boss = { schema: 'boss_t', queue: 'q' };

async function seed(name: string, n: number) {
  const { db } = database();
  const ds = await createDataset(db, { name, classes: ['a', 'b'] });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const img = fakeImage(`${name}-${i}`);
    const { image } = await addImage(db, {
      datasetId: ds.id,
      split: 'train',
      label: 'a',
      width: 2,
      height: 2,
      bytes: 10,
      ...img,
    });
    ids.push(image.id);
  }
  return { ds, ids };
}

const vector = (imageId: string, featureSetId: string) => ({
  imageId,
  featureSetId,
  shape: [2],
  values: new Float32Array([1, 2]),
});

/** A stand-in for pg-boss's job table with the columns the queries read. */
async function fakeJobTable() {
  await database()
    .sql.unsafe(
      `create schema if not exists boss_t;
       create table if not exists boss_t.job (id uuid primary key default gen_random_uuid(), name text,
         state text, data jsonb, output jsonb, completed_on timestamptz)`,
    )
    .simple();
}

async function insertJob(
  tx: { sql: ReturnType<typeof database>['sql'] },
  extraction: Extraction,
  imageIds: string[],
  state = 'created',
) {
  const data = { extractionId: extraction.id, datasetId: extraction.datasetId, imageIds };
  await tx.sql`insert into boss_t.job (name, state, data) values ('q', ${state}, ${JSON.stringify(data)}::jsonb)`;
}

describe('feature sets', () => {
  it('records an identity once, also when many callers race, and a new row for other weights', async () => {
    const { db } = database();
    const base = await testFeatureSet(db, 'race');
    const identity = { ...base, weights: { sha256: 'e'.repeat(64), source: '/w/a' } };
    const rows = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ensureFeatureSet(db, { ...identity, weights: { ...identity.weights, source: `/w/${i}` } }),
      ),
    );
    expect(new Set(rows.map((r) => r.id)).size).toBe(1);
    expect(rows[0]?.key).toBe(featureSetKey(identity));
    // the first source recorded is kept: the same tensors from another path are the same feature set
    expect(new Set(rows.map((r) => r.weights.source)).size).toBe(1);
    const other = await ensureFeatureSet(db, {
      ...identity,
      weights: { sha256: 'f'.repeat(64), source: '/w/b' },
    });
    expect(other.id).not.toBe(rows[0]?.id);
  });
});

describe('extraction queries', () => {
  it('finds which of a batch still lack a vector, skipping failed images and other feature sets', async () => {
    const { db } = database();
    const { ids } = await seed('missing', 4);
    const [a, b, c, d] = ids as [string, string, string, string];
    const [fs, other] = [await testFeatureSet(db, 'fs'), await testFeatureSet(db, 'other')];
    await saveFeatures(db, [vector(a, fs.id), vector(b, other.id)]);
    await markImageFailed(db, c, 'corrupt');
    const left = await imagesStillMissing(db, fs.id, ids);
    expect(left.map((r) => r.id).sort()).toEqual([b, d].sort());
    expect(await imagesStillMissing(db, fs.id, [])).toEqual([]);
    expect(await countFailedImages(db, (await seed('no-failed', 1)).ds.id)).toBe(0);
  });

  it('opens one extraction per dataset x feature set under 20 concurrent requests, each image queued once', async () => {
    const { db, sql } = database();
    await fakeJobTable();
    const { ds, ids } = await seed('concurrent', 10);
    const fs = await testFeatureSet(db, 'concurrent');
    const opened = await Promise.all(
      Array.from({ length: 20 }, () =>
        inTransaction(sql, async (tx) => {
          const ex = await openExtraction(tx.db, ds.id, fs.id);
          const todo = await imagesToQueue(tx.db, ex, boss);
          for (let i = 0; i < todo.length; i += 3) await insertJob(tx, ex, todo.slice(i, i + 3));
          await recordQueued(tx.db, ex.id, { images: todo.length, batches: Math.ceil(todo.length / 3) });
          return ex.id;
        }),
      ),
    );
    expect(new Set(opened).size).toBe(1);
    const queued = await sql<{ id: string }[]>`
      select jsonb_array_elements_text(data->'imageIds') as id from boss_t.job
      where data->>'extractionId' = ${opened[0] as string}`;
    expect(queued.map((r) => r.id).sort()).toEqual([...ids].sort());
    const [row] = await db.execute<{ images: number; batches: number }>(
      dsql`select images, batches from extractions where id = ${opened[0] as string}`,
    );
    expect(row).toEqual({ images: 10, batches: 4 });
  });

  it('reports progress, batch states, rate and the state a reader sees through the life of an extraction', async () => {
    const { db, sql } = database();
    await fakeJobTable();
    const { ds, ids } = await seed('life', 4);
    const fs = await testFeatureSet(db, 'life');
    const ex = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, fs.id));
    const progress = async () => {
      const [p] = await listExtractions(db, { ids: [ex.id], ...boss });
      return p;
    };
    await insertJob({ sql }, ex, ids.slice(0, 2));
    await insertJob({ sql }, ex, ids.slice(2), 'active');
    expect(await progress()).toMatchObject({
      state: 'running',
      total: 4,
      done: 0,
      jobs: { queued: 1, active: 1, failed: 0 },
      imagesPerSecond: null,
      etaSeconds: null,
      datasetName: 'life',
      featureSet: { id: fs.id },
    });
    await sql`update boss_t.job set state = 'completed' where data->>'extractionId' = ${ex.id}`;
    await saveFeatures(
      db,
      ids.slice(0, 3).map((id) => vector(id, fs.id)),
    );
    expect(await finishIfCovered(db, ex.id)).toBe(false);
    await sql`insert into boss_t.job (name, state, data, output, completed_on) values ('q', 'failed',
      ${JSON.stringify({ extractionId: ex.id, imageIds: [ids[3]] })}::jsonb, '{"message":"boom"}'::jsonb, now())`;
    const idle = await progress();
    expect(idle).toMatchObject({ state: 'idle', done: 3, jobs: { failed: 1 } });
    expect(idle?.error).toBe('1 batch(es) gave up after their retries: boom');
    expect(idle?.imagesPerSecond).toBeGreaterThan(0);
    // the failed batch is not outstanding: its image is queued again by the next request
    expect(await imagesToQueue(db, ex, boss)).toEqual([ids[3]]);
    await saveFeatures(db, [vector(ids[3] as string, fs.id)]);
    expect(await finishIfCovered(db, ex.id)).toBe(true);
    expect(await progress()).toMatchObject({ state: 'done', done: 4, etaSeconds: 0 });
    expect((await progress())?.finishedAt).not.toBeNull();
    // images added later leave a done extraction idle until it is asked for again
    const { image } = await addImage(db, {
      datasetId: ds.id,
      split: 'train',
      label: 'b',
      width: 2,
      height: 2,
      bytes: 10,
      ...fakeImage('life-late'),
    });
    expect(await progress()).toMatchObject({ state: 'idle', total: 5, done: 4 });
    expect(await imagesToQueue(db, ex, boss)).toEqual([image.id]);
  });

  it('a stop deletes the waiting batches of what it stops, and only those', async () => {
    const { db, sql } = database();
    await fakeJobTable();
    const { ds, ids } = await seed('drop', 4);
    const [a, b] = [await testFeatureSet(db, 'drop-a'), await testFeatureSet(db, 'drop-b')];
    const exA = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, a.id));
    const exB = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, b.id));
    await insertJob({ sql }, exA, ids.slice(0, 2));
    await insertJob({ sql }, exA, ids.slice(2, 3), 'retry');
    await insertJob({ sql }, exA, ids.slice(3), 'active');
    await insertJob({ sql }, exB, ids);
    expect(await cancelExtractions(db, [exA.id], boss)).toEqual({ stopped: [exA.id], droppedJobs: 2 });
    const left = await sql<{ extractionId: string; state: string }[]>`
      select data->>'extractionId' as "extractionId", state from boss_t.job
      where data->>'extractionId' in (${exA.id}, ${exB.id}) order by state`;
    expect(left).toEqual([
      { extractionId: exA.id, state: 'active' }, // a worker holds it: it finishes, its vectors stay
      { extractionId: exB.id, state: 'created' },
    ]);
    expect(await failExtraction(db, exB.id, 'weights_corrupt: no', boss)).toBe(true);
    expect(await sql`select 1 from boss_t.job where data->>'extractionId' = ${exB.id}`).toHaveLength(0);
  });

  it('an extract request racing a cancel never leaves a running extraction with nothing queued', async () => {
    const { db, sql } = database();
    await fakeJobTable();
    const { ds, ids } = await seed('race-stop', 3);
    const fs = await testFeatureSet(db, 'race-stop');
    // what startExtraction does in its transaction, with the fake job table
    const request = () =>
      inTransaction(sql, async (tx) => {
        const ex = await openExtraction(tx.db, ds.id, fs.id);
        const todo = await imagesToQueue(tx.db, ex, boss);
        if (todo.length > 0) await insertJob(tx, ex, todo);
        await recordQueued(tx.db, ex.id, { images: todo.length, batches: todo.length > 0 ? 1 : 0 });
        return ex;
      });
    const ex = await request();
    for (let round = 0; round < 20; round++) {
      await Promise.all([cancelExtractions(db, [ex.id], boss), request()]);
      const [progress] = await listExtractions(db, { ids: [ex.id], ...boss });
      const [queued] = await sql<{ images: number }[]>`
        select count(distinct x)::int as images from boss_t.job, jsonb_array_elements_text(data->'imageIds') x
        where data->>'extractionId' = ${ex.id} and state in ('created', 'retry')`;
      if (progress?.state === 'cancelled') expect(queued?.images, `round ${round}`).toBe(0);
      else {
        expect(progress?.state, `round ${round}`).toMatch(/^(queued|running)$/);
        expect(queued?.images, `round ${round}`).toBe(ids.length);
      }
      await request(); // reopen for the next round
    }
  });

  it('fails or cancels only a running extraction, and a new request reopens it', async () => {
    const { db, sql } = database();
    const { ds } = await seed('stop', 1);
    const [a, b] = [await testFeatureSet(db, 'stop-a'), await testFeatureSet(db, 'stop-b')];
    const exA = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, a.id));
    const exB = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, b.id));
    expect(await failExtraction(db, exA.id, 'weights_corrupt: no')).toBe(true);
    expect(await failExtraction(db, exA.id, 'again')).toBe(false);
    expect(await cancelExtractions(db, [exA.id, exB.id])).toEqual({ stopped: [exB.id], droppedJobs: 0 });
    const [pa, pb] = [
      (await listExtractions(db, { ids: [exA.id] }))[0],
      (await listExtractions(db, { ids: [exB.id] }))[0],
    ];
    expect(pa).toMatchObject({ state: 'failed', error: 'weights_corrupt: no', etaSeconds: null });
    expect(pb).toMatchObject({ state: 'cancelled', error: null });
    await recordQueued(db, exA.id, { images: 0, batches: 0 });
    expect((await listExtractions(db, { ids: [exA.id] }))[0]).toMatchObject({
      error: null,
      finishedAt: null,
    });
    expect((await listExtractions(db, { datasetId: ds.id })).map((p) => p.id).sort()).toEqual(
      [exA.id, exB.id].sort(),
    );
  });

  it('counts no batches before pg-boss is installed and refuses a schema that is not an identifier', async () => {
    const { db, sql } = database();
    const { ds } = await seed('no-boss', 1);
    const fs = await testFeatureSet(db, 'no-boss');
    const ex = await inTransaction(sql, (tx) => openExtraction(tx.db, ds.id, fs.id));
    expect((await listExtractions(db, { ids: [ex.id], schema: 'absent' }))[0]?.jobs).toEqual({
      queued: 0,
      active: 0,
      failed: 0,
    });
    await expect(listExtractions(db, { ids: [ex.id], schema: 'x; drop' })).rejects.toMatchObject({
      details: { field: 'schema' },
    });
  });
});
