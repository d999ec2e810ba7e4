// The dashboard API in Node: `app.request()` on the sub-app with a Hyperdrive-like env whose connectionString
// is a createTestDatabase() URL, so every route runs its real SQL through postgres.js (the Worker's driver).
import { connect, type Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { dashboardApi } from '@edgehead/edge/dashboard-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Seeded, seedDashboard } from './seed.ts';

let testDb: TestDatabase;
let database: Database;
let seeded: Seeded;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await connect({ url: testDb.url, max: 2 });
  seeded = await seedDashboard(database);
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

/** Calls the sub-app like the Worker does: a Hyperdrive binding and an ExecutionContext collecting waitUntil. */
async function get(path: string, connectionString = testDb.url) {
  const pending: Promise<unknown>[] = [];
  const ctx = {
    waitUntil: (p: Promise<unknown>) => void pending.push(p),
    passThroughOnException: () => undefined,
    props: {},
  };
  const res = await dashboardApi.request(`/api${path}`, {}, { HYPERDRIVE: { connectionString } }, ctx);
  await Promise.all(pending);
  // biome-ignore lint/suspicious/noExplicitAny: the assertions check the body shape
  return { res, body: (await res.json()) as any, pending: pending.length };
}

describe('GET /runs', () => {
  it('lists every run newest first with progress and best metrics, and closes its client through waitUntil', async () => {
    const { res, body, pending } = await get('/runs');
    expect(res.status).toBe(200);
    expect(pending).toBe(1);
    expect(body).toMatchObject({ total: 6, page: 1, pageSize: 25, pages: 1 });
    expect(body.items.map((r: { id: string }) => r.id)).toEqual([
      seeded.queued,
      seeded.failed,
      seeded.live,
      seeded.flowers,
      seeded.tuned,
      seeded.recipe,
    ]);
    const recipe = body.items.find((r: { id: string }) => r.id === seeded.recipe);
    expect(recipe).toMatchObject({
      datasetName: 'cats-vs-dogs-small',
      featureSetId: seeded.featureSets.vgg16.id,
      featureSet: seeded.featureSets.vgg16.label,
      status: 'succeeded',
      epochsDone: 12,
      epochsTotal: 12,
      backend: 'wasm',
      testAccuracy: 0.89,
    });
    expect(recipe.bestValAccuracy).toBeCloseTo(0.5 + 0.4 * (1 - Math.exp(-3)), 10);
    expect(body.items.find((r: { id: string }) => r.id === seeded.live)).toMatchObject({
      status: 'running',
      epochsDone: 3,
      epochsTotal: 10,
    });
  });

  it('filters by dataset, feature set and status', async () => {
    const byDataset = await get(`/runs?dataset=${seeded.datasets.flowers}`);
    expect(byDataset.body.items.map((r: { id: string }) => r.id).sort()).toEqual(
      [seeded.flowers, seeded.failed].sort(),
    );
    const bySet = await get(`/runs?featureSet=${seeded.featureSets.vgg16.id}`);
    expect(bySet.body.total).toBe(3);
    const running = await get('/runs?status=running');
    expect(running.body.items.map((r: { id: string }) => r.id)).toEqual([seeded.live]);
    const both = await get(
      `/runs?dataset=${seeded.datasets.cats}&status=succeeded&featureSet=${seeded.featureSets.vgg16.id}`,
    );
    expect(both.body.items.map((r: { id: string }) => r.id).sort()).toEqual(
      [seeded.recipe, seeded.tuned].sort(),
    );
  });

  it('sorts on the server and pages with a total', async () => {
    const top = await get('/runs?sort=test_accuracy&order=desc&pageSize=2');
    expect(top.body).toMatchObject({ total: 6, pages: 3, pageSize: 2 });
    expect(top.body.items.map((r: { id: string }) => r.id)).toEqual([seeded.tuned, seeded.recipe]);
    const second = await get('/runs?sort=test_accuracy&order=desc&pageSize=2&page=2');
    expect(second.body.items.map((r: { id: string }) => r.id)[0]).toBe(seeded.flowers);
    const pages = await Promise.all(
      [1, 2, 3].map((p) => get(`/runs?sort=created_at&order=asc&pageSize=2&page=${p}`)),
    );
    const ids = pages.flatMap((p) => p.body.items.map((r: { id: string }) => r.id));
    expect(ids).toEqual([
      seeded.recipe,
      seeded.tuned,
      seeded.flowers,
      seeded.live,
      seeded.failed,
      seeded.queued,
    ]);
    const past = await get('/runs?page=9');
    expect(past.body).toMatchObject({ total: 6, items: [] });
  });

  it.each([
    ['status=bogus', 'status'],
    ['sort=name', 'sort'],
    ['order=up', 'order'],
    ['page=0', 'page'],
    ['page=-1', 'page'],
    ['pageSize=abc', 'pageSize'],
    ['pageSize=1000', 'pageSize'],
    ['dataset=cats', 'dataset'],
  ])('answers 400 naming the parameter for ?%s', async (query, field) => {
    const { res, body } = await get(`/runs?${query}`);
    expect(res.status).toBe(400);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.message).toContain(field);
    expect(body.error.details.field).toBe(field);
  });

  it('answers 400 for an unknown parameter, naming it', async () => {
    const { res, body } = await get('/runs?stauts=running');
    expect(res.status).toBe(400);
    expect(body.error.message).toContain('stauts');
  });
});

describe('GET /runs/:id', () => {
  it('returns the run with its epochs in order, evaluations, dataset classes and model', async () => {
    const { res, body } = await get(`/runs/${seeded.recipe}`);
    expect(res.status).toBe(200);
    expect(body.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    expect(body.dataset).toMatchObject({
      name: 'cats-vs-dogs-small',
      task: 'binary',
      classes: ['cats', 'dogs'],
    });
    expect(body.run.config).toMatchObject({ optimizer: 'rmsprop', learningRate: 2e-5 });
    const [test] = body.evaluations;
    expect(test).toMatchObject({
      split: 'test',
      confusion: [
        [90, 5],
        [6, 87],
      ],
      rocAuc: 0.95,
    });
    expect(test.roc).toHaveLength(6);
    expect(body.model).toMatchObject({ name: 'pets', version: 1 });
  });

  it('answers 404 for an unknown run and 400 for an id that is not a UUID', async () => {
    const missing = await get('/runs/00000000-0000-4000-8000-000000000000');
    expect(missing.res.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('00000000-0000-4000-8000-000000000000'),
    });
    const bad = await get('/runs/42');
    expect(bad.res.status).toBe(400);
    expect(bad.body.error.details.field).toBe('id');
  });
});

describe('GET /compare', () => {
  it('returns the runs in the order asked, each with its curves and evaluations', async () => {
    const { res, body } = await get(`/compare?ids=${seeded.tuned},${seeded.recipe}`);
    expect(res.status).toBe(200);
    expect(body.runs.map((r: { run: { id: string } }) => r.run.id)).toEqual([seeded.tuned, seeded.recipe]);
    expect(body.runs.map((r: { epochs: unknown[] }) => r.epochs.length)).toEqual([8, 12]);
    expect(body.runs[1].evaluations[0].split).toBe('test');
  });

  const eleven = Array.from(
    { length: 11 },
    (_, i) => `00000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
  );
  it.each([
    { label: 'one id', query: 'ids=00000000-0000-4000-8000-000000000001', text: 'at least 2' },
    { label: 'eleven ids', query: `ids=${eleven.join(',')}`, text: 'at most 10' },
    { label: 'ids that are not UUIDs', query: 'ids=a,b', text: 'UUID' },
    { label: 'no ids', query: '', text: 'ids' },
  ])('answers 400 for $label', async ({ query, text }) => {
    const { res, body } = await get(`/compare?${query}`);
    expect(res.status).toBe(400);
    expect(body.error.message).toContain(text);
    expect(body.error.details.field).toMatch(/^ids/);
  });

  it('answers 400 for a repeated id and 404 naming a run that does not exist', async () => {
    const dup = await get(`/compare?ids=${seeded.recipe},${seeded.recipe}`);
    expect(dup.res.status).toBe(400);
    expect(dup.body.error.message).toContain('distinct');
    const missing = await get(`/compare?ids=${seeded.recipe},00000000-0000-4000-8000-00000000abcd`);
    expect(missing.res.status).toBe(404);
    expect(missing.body.error.message).toContain('00000000-0000-4000-8000-00000000abcd');
  });
});

describe('facets, datasets, models', () => {
  it('lists the filter choices with run counts', async () => {
    const { body } = await get('/facets');
    expect(body.total).toBe(6);
    expect(body.datasets).toEqual([
      { id: seeded.datasets.cats, name: 'cats-vs-dogs-small', task: 'binary', runs: 4 },
      { id: seeded.datasets.flowers, name: 'flowers', task: 'multiclass', runs: 2 },
    ]);
    expect(body.featureSets).toContainEqual({
      id: seeded.featureSets.vgg16.id,
      featureSet: seeded.featureSets.vgg16.label,
      runs: 3,
    });
    expect(body.statuses).toContainEqual({ status: 'succeeded', runs: 3 });
  });

  it('lists datasets with image counts per split', async () => {
    const { body } = await get('/datasets');
    expect(body.datasets.map((d: { name: string }) => d.name).sort()).toEqual([
      'cats-vs-dogs-small',
      'flowers',
    ]);
    expect(body.datasets[0].counts).toEqual({ train: 0, validation: 0, test: 0 });
  });

  it('groups deployments by alias with the active version and the run behind each', async () => {
    const { body } = await get('/models');
    expect(body.aliases).toHaveLength(1);
    const [pets] = body.aliases;
    expect(pets.alias).toBe('pets');
    expect(pets.active).toBe('v2');
    expect(
      pets.versions.map((v: { edgeVersion: string; active: boolean }) => [v.edgeVersion, v.active]),
    ).toEqual([
      ['v2', true],
      ['v1', false],
    ]);
    expect(pets.versions[0].run).toMatchObject({
      id: seeded.tuned,
      featureSet: seeded.featureSets.vgg16.label,
      testAccuracy: 0.92,
    });
    expect(body.models.map((m: { version: number; aliases: string[] }) => [m.version, m.aliases])).toEqual([
      [2, ['pets']],
      [1, ['pets']],
    ]);
  });
});

describe('GET /extractions', () => {
  it('lists every extraction newest first with feature set, state, done/total and the error', async () => {
    const { res, body } = await get('/extractions');
    expect(res.status).toBe(200);
    expect(body.extractions.map((e: { id: string }) => e.id)).toEqual([
      seeded.extractions.cancelled,
      seeded.extractions.failed,
      seeded.extractions.done,
    ]);
    const [cancelled, failed, done] = body.extractions;
    expect(done).toMatchObject({
      datasetName: 'cats-vs-dogs-small',
      featureSet: { id: seeded.featureSets.vgg16.id, backbone: 'vgg16' },
      state: 'done',
      done: 4,
      total: 4,
      etaSeconds: 0,
      error: null,
    });
    expect(failed).toMatchObject({ state: 'failed', error: expect.stringMatching(/^weights_truncated/) });
    expect(cancelled).toMatchObject({ state: 'cancelled', done: 0, total: 4 });
  });
});

describe('failures', () => {
  it('answers 503 naming the binding when the database cannot be reached', async () => {
    const { res, body } = await get('/runs', 'postgres://postgres@127.0.0.1:1/postgres');
    expect(res.status).toBe(503);
    expect(body.error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('HYPERDRIVE') });
  });

  it('answers a JSON 404 for an unknown dashboard route', async () => {
    const { res, body } = await get('/nope');
    expect(res.status).toBe(404);
    expect(body.error.code).toBe('not_found');
  });
});
