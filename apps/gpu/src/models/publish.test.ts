import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorJson, headConfigRequest, PUBLISH_PARTS } from '@edgehead/contracts';
import {
  createDataset,
  createRun,
  ensureFeatureSet,
  listDeployments,
  registerModel,
  schema,
} from '@edgehead/db';
import { connect, type Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { type HeadArtifactFiles, HeadError, verifyHeadArtifact } from '@edgehead/head';
import { trainHead } from '@edgehead/training';
import { syntheticFeatures } from '@edgehead/training/testing';
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onError } from '../http/errors.ts';
import { buildArtifact } from './artifact.ts';
import { modelRoutes } from './routes.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 180_000 });

const TOKEN = 'edge-admin-token';

/** A small edge admin API: bearer check, multipart parts, `verifyHeadArtifact`, immutable versions. */
function startFakeEdge(): Promise<{ url: string; server: Server; versions: Map<string, HeadArtifactFiles> }> {
  const versions = new Map<string, HeadArtifactFiles>();
  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(403, errorJson('forbidden', 'admin route: the admin token is wrong'));
    const m = /^\/admin\/models\/([^/]+)\/versions\/([^/?]+)(\?.*)?$/.exec(req.url ?? '');
    if (req.method !== 'PUT' || !m) return send(404, errorJson('not_found', 'no route'));
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = await new Request('http://edge/', {
      method: 'PUT',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body: Buffer.concat(chunks),
    }).formData();
    const files: Partial<HeadArtifactFiles> = {};
    for (const name of PUBLISH_PARTS) {
      const part = form.get(name);
      if (!(part instanceof Blob))
        return send(400, errorJson('validation_failed', `publish is missing part ${name}`));
      files[name] = new Uint8Array(await part.arrayBuffer());
    }
    const key = `${m[1]}/${m[2]}`;
    if (versions.has(key))
      return send(409, errorJson('conflict', `model ${m[1]} version ${m[2]} already exists`));
    try {
      const { manifest } = await verifyHeadArtifact(files as HeadArtifactFiles);
      const first = ![...versions.keys()].some((k) => k.startsWith(`${m[1]}/`));
      versions.set(key, files as HeadArtifactFiles);
      send(201, { alias: m[1], version: m[2], active: first || m[3] === '?activate=true', manifest });
    } catch (err) {
      if (!(err instanceof HeadError)) throw err;
      send(400, errorJson('validation_failed', `artifact refused: ${err.message}`, { code: err.code }));
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, versions }),
    ),
  );
}

let testDb: TestDatabase;
let database: Database;
let edge: Awaited<ReturnType<typeof startFakeEdge>>;
let modelId: string;

function app(edgeConfig: { url: string; token: string } | null) {
  const a = new Hono();
  a.onError(onError);
  a.route('/', modelRoutes({ db: database.db, env: { edge: edgeConfig } }));
  return a;
}

async function publish(a: Hono, body: unknown, id = modelId) {
  const res = await a.request(`/v1/models/${id}/publish`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      error?: { code: string; message: string };
      active?: boolean;
      version?: string;
    },
  };
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await connect({ url: testDb.url });
  edge = await startFakeEdge();
  const db = database.db;
  const ds = await createDataset(db, { name: 'publish-pets', classes: ['cat', 'dog'] });
  const config = headConfigRequest.parse({ hiddenUnits: 4, epochs: 2, earlyStopping: null });
  const featureSet = await ensureFeatureSet(db, {
    backbone: 'tinynet',
    weights: { sha256: 'c'.repeat(64), source: '/weights/tinynet' },
    pooling: 'avg',
    preprocessing: 'rescale',
    inputSize: [8, 8],
    featureLayer: 'out',
    featureShape: [6],
    provenance: null,
  });
  const run = await createRun(db, { datasetId: ds.id, featureSetId: featureSet.id, config, epochsTotal: 2 });
  const { train, validation } = syntheticFeatures({ n: 20, nVal: 10, dim: 6, numClasses: 2 });
  const result = await trainHead({ featureShape: [6], numClasses: 2, train, validation }, config);
  const artifact = await buildArtifact(result.model, {
    featureSet,
    featureShape: [6],
    classes: ['cat', 'dog'],
    threshold: 0.5,
    metrics: {},
    runId: run.id,
  });
  result.model.dispose();
  const model = await registerModel(db, { runId: run.id, name: 'publish-pets', ...artifact });
  modelId = model.id;
}, 180_000);

afterAll(async () => {
  edge?.server.close();
  await database?.close();
  await testDb?.drop();
});

describe('POST /v1/models/:id/publish', () => {
  it('uploads an artifact the edge verifies and records the deployment', async () => {
    const res = await publish(app({ url: edge.url, token: TOKEN }), { alias: 'pets', activate: true });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ alias: 'pets', version: 'v1', active: true });
    expect(edge.versions.has('pets/v1')).toBe(true);
    const [deployment] = await listDeployments(database.db, 'pets');
    expect(deployment).toMatchObject({ modelId, alias: 'pets', edgeVersion: 'v1', active: true });
  });

  it("passes the edge's conflict on for a version that already exists", async () => {
    const res = await publish(app({ url: edge.url, token: TOKEN }), { alias: 'pets', version: 'v1' });
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe('conflict');
  });

  it('reports a stored artifact the edge refuses on verification', async () => {
    const db = database.db;
    const where = and(eq(schema.modelFiles.modelId, modelId), eq(schema.modelFiles.path, 'weights.bin'));
    const [file] = await db.select().from(schema.modelFiles).where(where);
    const tampered = new Uint8Array(file?.data as Uint8Array);
    tampered[0] = (tampered[0] as number) ^ 0xff;
    await db.update(schema.modelFiles).set({ data: tampered }).where(where);
    try {
      const res = await publish(app({ url: edge.url, token: TOKEN }), { alias: 'pets', version: 'v2' });
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toMatch(/weights\.bin: sha256/);
      expect(edge.versions.has('pets/v2')).toBe(false);
    } finally {
      await db
        .update(schema.modelFiles)
        .set({ data: file?.data as Uint8Array })
        .where(where);
    }
  });

  it('answers 502 when the edge refuses our token, 503 when publishing is not configured', async () => {
    expect(
      (await publish(app({ url: edge.url, token: 'wrong' }), { alias: 'pets', version: 'v3' })).status,
    ).toBe(502);
    const off = await publish(app(null), { alias: 'pets' });
    expect(off.status).toBe(503);
    expect(off.body.error?.message).toContain('EDGEHEAD_EDGE_URL');
  });

  it('refuses a bad alias naming the field', async () => {
    const res = await publish(app({ url: edge.url, token: TOKEN }), { alias: 'Not An Alias' });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('validation_failed');
    expect(res.body.error?.message).toContain('alias');
  });
});
