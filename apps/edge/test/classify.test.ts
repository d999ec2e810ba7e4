import { CLASSIFY_LIMITS, type ErrorBody } from '@edgehead/contracts';
import { encodeFloat16 } from '@edgehead/head';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, binary, call, classify, createKey, fixtures, probs, publish } from './helpers.ts';

let key: string;
const D = 16;
beforeAll(async () => {
  key = await createKey();
  await publish('cls', 'v1', fixtures.v1);
  await publish('multi', 'm1', fixtures.multi);
});

async function error(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const body = (await res.json()) as ErrorBody;
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  return body.error;
}

describe('classify', () => {
  it('takes one JSON vector', async () => {
    const body = await probs(
      await classify('cls', key, JSON.stringify({ features: fixtures.v1.inputs[0] }), 'application/json'),
    );
    expect(body.predictions).toHaveLength(1);
    expect(
      Math.abs(
        (body.predictions[0]?.probabilities.dogs as number) - (fixtures.v1.expected[0]?.[0] as number),
      ),
    ).toBeLessThanOrEqual(1e-5);
  });

  it('takes a JSON batch and a binary batch with the same answers', async () => {
    const json = await probs(
      await classify('cls', key, JSON.stringify({ features: fixtures.v1.inputs }), 'application/json'),
    );
    const bin = await probs(await classify('cls', key, binary(fixtures.v1.inputs)));
    expect(json.predictions).toHaveLength(4);
    expect(bin.predictions).toEqual(json.predictions);
  });

  it('takes float16 by query or header, close to the float32 answer', async () => {
    const f16 = encodeFloat16(fixtures.v1.inputs.flat());
    const byQuery = await probs(
      await classify('cls', key, f16, 'application/octet-stream', '?dtype=float16'),
    );
    const byHeader = await probs(
      await call('/v1/models/cls/classify', {
        method: 'POST',
        headers: {
          'x-api-key': key,
          'content-type': 'application/octet-stream',
          'x-feature-dtype': 'float16',
        },
        body: f16,
      }),
    );
    expect(byHeader.predictions).toEqual(byQuery.predictions);
    expect(byQuery.predictions).toHaveLength(4);
    for (const [i, p] of byQuery.predictions.entries())
      expect(p.probabilities.dogs).toBeCloseTo(fixtures.v1.expected[i]?.[0] as number, 2);
  });

  it('labels multiclass heads by argmax with every class probability', async () => {
    const body = await probs(await classify('multi', key, binary(fixtures.multi.inputs)));
    expect(body.predictions).toHaveLength(4);
    for (const [i, p] of body.predictions.entries()) {
      const row = fixtures.multi.expected[i] as number[];
      expect(p.label).toBe(['cat', 'dog', 'fox'][row.indexOf(Math.max(...row))]);
      expect(Object.keys(p.probabilities)).toEqual(['cat', 'dog', 'fox']);
      for (const [c, name] of ['cat', 'dog', 'fox'].entries())
        expect(Math.abs((p.probabilities[name] as number) - (row[c] as number))).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('classify auth', () => {
  it('answers 401 without a key, 403 with a wrong or deleted key, 200 with Bearer', async () => {
    await error(
      await call('/v1/models/cls/classify', {
        method: 'POST',
        body: binary([fixtures.v1.inputs[0] as number[]]),
      }),
      401,
      'unauthorized',
    );
    await error(
      await classify('cls', 'ehk_nope', binary([fixtures.v1.inputs[0] as number[]])),
      403,
      'forbidden',
    );
    const created = (await (
      await call('/admin/keys', {
        method: 'POST',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as { id: string; key: string };
    const bearer = await call('/v1/models/cls/classify', {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/octet-stream' },
      body: binary([fixtures.v1.inputs[0] as number[]]),
    });
    expect(bearer.status).toBe(200);
    expect((await call(`/admin/keys/${created.id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(200);
    await error(
      await classify('cls', created.key, binary([fixtures.v1.inputs[0] as number[]])),
      403,
      'forbidden',
    );
    await error(
      await call(`/admin/keys/${created.id}`, { method: 'DELETE', headers: ADMIN }),
      404,
      'not_found',
    );
  });

  it('guards admin routes with the admin token', async () => {
    await error(await call('/admin/models'), 401, 'unauthorized');
    await error(
      await call('/admin/models', { headers: { authorization: 'Bearer test-admin-tokeN' } }),
      403,
      'forbidden',
    );
    await error(
      await call('/admin/models', { headers: { authorization: `Bearer ${key}` } }),
      403,
      'forbidden',
    );
    expect((await call('/admin/models', { headers: ADMIN })).status).toBe(200);
  });
});

describe('classify errors', () => {
  const one = () => binary([fixtures.v1.inputs[0] as number[]]);
  it('names a wrong feature length (binary and JSON)', async () => {
    const bin = await error(await classify('cls', key, new Uint8Array(D * 4 + 4)), 400, 'bad_request');
    expect(bin.details).toMatchObject({ expectedMultipleOf: D * 4, actual: D * 4 + 4 });
    const json = await error(
      await classify(
        'cls',
        key,
        JSON.stringify({ features: [[...(fixtures.v1.inputs[0] as number[])], [1, 2]] }),
        'application/json',
      ),
      400,
      'bad_request',
    );
    expect(json.details).toEqual({ field: 'features.1', expected: D, actual: 2 });
  });

  it('refuses NaN and Infinity', async () => {
    const nan = new Float32Array(D);
    nan[5] = Number.NaN;
    expect(
      (await error(await classify('cls', key, new Uint8Array(nan.buffer)), 400, 'bad_request')).details,
    ).toMatchObject({ index: 5, value: 'NaN' });
    const inf = new Float32Array(2 * D);
    inf[D + 1] = Number.POSITIVE_INFINITY;
    expect(
      (await error(await classify('cls', key, new Uint8Array(inf.buffer)), 400, 'bad_request')).details,
    ).toMatchObject({ vector: 1, index: 1 });
    const big = await error(
      await classify(
        'cls',
        key,
        `{"features":[${new Array(D).fill('1e999').join(',')}]}`,
        'application/json',
      ),
      400,
      'validation_failed',
    );
    expect(big.details).toMatchObject({ field: 'features.0' });
    // finite as a JSON (float64) number, Infinity as float32: refused, never passed to the head
    const overflow = await error(
      await classify(
        'cls',
        key,
        `{"features":[${new Array(D - 1).fill('0').join(',')},-1e39]}`,
        'application/json',
      ),
      400,
      'bad_request',
    );
    expect(overflow.details).toMatchObject({ field: `features.0.${D - 1}`, value: '-1e+39' });
  });

  it('refuses an empty body, malformed JSON and a wrong content type', async () => {
    await error(await classify('cls', key, new Uint8Array(0)), 400, 'bad_request');
    await error(await classify('cls', key, '', 'application/json'), 400, 'bad_request');
    await error(await classify('cls', key, '{"features":', 'application/json'), 400, 'bad_request');
    await error(await classify('cls', key, '{"vectors":[1]}', 'application/json'), 400, 'validation_failed');
    await error(await classify('cls', key, 'hello', 'text/plain'), 415, 'unsupported_media_type');
    await error(
      await classify('cls', key, one(), 'application/octet-stream', '?dtype=int8'),
      400,
      'validation_failed',
    );
  });

  it('refuses a batch too large and a body too large', async () => {
    const tooMany = new Uint8Array((CLASSIFY_LIMITS.maxBatch + 1) * D * 4);
    expect(
      (await error(await classify('cls', key, tooMany), 413, 'payload_too_large')).details,
    ).toMatchObject({ max: CLASSIFY_LIMITS.maxBatch });
    await error(
      await classify('cls', key, new Uint8Array(CLASSIFY_LIMITS.maxBodyBytes + 64)),
      413,
      'payload_too_large',
    );
  });

  it('names an unknown alias, a bad alias and an alias without an active version', async () => {
    expect((await error(await classify('ghost', key, one()), 404, 'not_found')).message).toContain('"ghost"');
    await error(await classify('Bad.Alias', key, one()), 400, 'validation_failed');
    // an alias whose pointer is gone (e.g. removed by hand) has versions but nothing active
    const { env } = await import('cloudflare:workers');
    await publish('orphan', 'v1', fixtures.v1);
    await env.REGISTRY.delete('active:orphan');
    await new Promise((r) => setTimeout(r, 1100)); // past the isolate's 1 s pointer cache
    await error(await classify('orphan', key, one()), 409, 'conflict');
  });

  it('answers JSON 404 for unknown routes', async () => {
    await error(await call('/nothing'), 404, 'not_found');
    await error(
      await classify('cls', key, JSON.stringify({ features: [1, [2]] }), 'application/json'),
      400,
      'bad_request',
    );
    expect(await (await call('/health')).json()).toEqual({ status: 'ok' });
  });
});
