// The dashboard's augmented samples: the edge passes the gpu service's picture through (the stand-in gpu
// service of vitest.config.ts answers it; the real renderer is tested in apps/gpu).
import { describe, expect, it } from 'vitest';
import { PLAIN_EXTRACTION } from './fake-gpu.ts';
import { ADMIN, call } from './helpers.ts';

const ID = '00000000-0000-4000-8000-0000000000aa';

describe('GET /api/extractions/:id/samples', () => {
  it("answers the gpu service's picture with its headers, the query and the gpu token passed on", async () => {
    const res = await call(`/api/extractions/${ID}/samples?images=2&copies=3&scale=2`, { headers: ADMIN });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-edgehead-images')).toBe('a,b');
    expect(Array.from(new Uint8Array(await res.arrayBuffer()))).toEqual([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const seen = (await (await fetch('http://gpu.test/calls')).json()) as { lastQuery: string };
    expect(new URLSearchParams(seen.lastQuery).get('copies')).toBe('3');
    expect(new URLSearchParams(seen.lastQuery).get('scale')).toBe('2');
  });

  it("passes the gpu service's 400 on, refuses a bad query itself, and needs a session", async () => {
    const plain = await call(`/api/extractions/${PLAIN_EXTRACTION}/samples`, { headers: ADMIN });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'id',
    );
    const bad = await call(`/api/extractions/${ID}/samples?images=0`, { headers: ADMIN });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'images',
    );
    expect((await call(`/api/extractions/${ID}/samples`)).status).toBe(401);
  });
});
