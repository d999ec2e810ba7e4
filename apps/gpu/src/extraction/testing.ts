// Helpers the extraction tests share: datasets of generated images, extract requests, waiting, pg-boss rows.
import type { ExtractionProgress, ExtractResponse } from '@edgehead/contracts';
import { EXTRACTION_QUEUE, schema } from '@edgehead/db';
import { inArray } from 'drizzle-orm';
import { expect } from 'vitest';
import { auth, form, image, type TestApp } from '../test-support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 200 ms until it returns a value. */
export async function until<T>(what: string, f: () => Promise<T | undefined>, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Creates dataset `name` with `n` generated train images (uploaded in requests of 500); returns their ids. */
export async function datasetWithImages(
  t: TestApp,
  name: string,
  n: number,
  seed: number,
): Promise<{ id: string; ids: string[] }> {
  const res = await t.app.request('/v1/datasets', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name, classes: ['cats', 'dogs'] }),
  });
  const { id } = (await res.json()) as { id: string };
  return { id, ids: await addImages(t, id, n, seed) };
}

/** Uploads `n` more generated images (seeds `seed`..) to a dataset; returns their ids. */
export async function addImages(t: TestApp, datasetId: string, n: number, seed: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 500) {
    const files = await Promise.all(
      Array.from({ length: Math.min(500, n - start) }, async (_, k) => {
        const i = start + k;
        return { name: `train/${i % 2 ? 'dogs' : 'cats'}/${seed + i}.jpg`, data: await image(seed + i) };
      }),
    );
    const up = await t.app.request(`/v1/datasets/${datasetId}/images`, {
      method: 'POST',
      headers: auth,
      body: form(files),
    });
    const body = (await up.json()) as { accepted: number; files: { imageId?: string }[] };
    expect(body.accepted).toBe(files.length);
    ids.push(...body.files.map((f) => f.imageId as string));
  }
  return ids;
}

/** `POST /v1/datasets/:id/extract` expecting `status`; the parsed answer. */
export async function extract(
  t: TestApp,
  datasetId: string,
  body: object = {},
  status = 202,
): Promise<
  ExtractResponse & { error?: { code: string; message: string; details?: Record<string, unknown> } }
> {
  const res = await t.app.request(`/v1/datasets/${datasetId}/extract`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(status);
  return json as never;
}

/** The progress of one extraction. */
export async function progressOf(
  t: TestApp,
  datasetId: string,
  extractionId: string,
): Promise<ExtractionProgress> {
  const res = await t.app.request(`/v1/datasets/${datasetId}/extract?extraction=${extractionId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ExtractionProgress;
}

/** Waits until an extraction reaches `state` (default done) with no batch waiting or running. */
export function whenSettled(
  t: TestApp,
  datasetId: string,
  extractionId: string,
  state: ExtractionProgress['state'] = 'done',
): Promise<ExtractionProgress> {
  return until(`extraction ${extractionId} to be ${state}`, async () => {
    const p = await progressOf(t, datasetId, extractionId);
    return p.state === state && p.jobs.active === 0 && p.jobs.queued === 0 ? p : undefined;
  });
}

/** Vector rows per image id (any feature set unless one is given). */
export async function vectorsPerImage(
  t: TestApp,
  ids: string[],
  featureSetId?: string,
): Promise<Map<string, number>> {
  const rows = await t.deps.db
    .select({ imageId: schema.features.imageId, featureSetId: schema.features.featureSetId })
    .from(schema.features)
    .where(inArray(schema.features.imageId, ids));
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (featureSetId !== undefined && r.featureSetId !== featureSetId) continue;
    counts.set(r.imageId, (counts.get(r.imageId) ?? 0) + 1);
  }
  return counts;
}

/** pg-boss rows of the extraction queue by state (all extractions, or one). */
export async function batchStates(t: TestApp, extractionId?: string): Promise<Record<string, number>> {
  const rows = await t.deps.sql<{ state: string; n: number }[]>`
    select state::text as state, count(*)::int as n from pgboss.job
    where name = ${EXTRACTION_QUEUE} and (${extractionId ?? null}::text is null or data->>'extractionId' = ${extractionId ?? null})
    group by state`;
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}
