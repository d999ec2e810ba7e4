import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import { isBackboneError } from '../errors.ts';
import { loadBackbone } from '../load.ts';
import { noiseImage, tempDir, tinyModel } from '../test-fixtures.ts';
import { resolveWeights } from './index.ts';
import { saveLayersModelFolder } from './tfjs-folder.ts';
import { downloadToCache, parseWeightsUrl } from './url-cache.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: Server;
let base: string;
const hits: string[] = [];
const files = new Map<string, Buffer>();

beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
  const model = tinyModel();
  const folder = path.join(tmp.dir, 'src');
  await saveLayersModelFolder(model, folder);
  model.dispose();
  files.set('/m/model.json', await readFile(path.join(folder, 'model.json')));
  files.set('/m/weights.bin', await readFile(path.join(folder, 'weights.bin')));
  files.set('/w.h5', Buffer.from('pretend h5 bytes'));
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const body = files.get(req.url ?? '');
    if (body === undefined) {
      res.writeHead(404).end('no');
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await tmp?.cleanup();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('URL weights', () => {
  it('downloads once into the cache, checks sha256 and reuses the cached file', async () => {
    const cacheDir = path.join(tmp.dir, 'cache-a');
    const body = files.get('/w.h5') as Buffer;
    const before = hits.length;
    const first = await downloadToCache(`${base}/w.h5`, { cacheDir, sha256: sha(body) });
    const second = await downloadToCache(`${base}/w.h5`, { cacheDir, sha256: sha(body) });
    expect(second).toBe(first);
    expect(await readFile(first)).toEqual(body);
    expect(hits.length - before).toBe(1);
  });

  it('refuses a sha256 mismatch and leaves nothing in the cache', async () => {
    const cacheDir = path.join(tmp.dir, 'cache-b');
    const wrong = 'a'.repeat(64);
    const err = await downloadToCache(`${base}/w.h5`, { cacheDir, sha256: wrong }).catch((e: unknown) => e);
    expect(isBackboneError(err, 'checksum_mismatch')).toBe(true);
    expect((err as Error).message).toContain(`expected ${wrong}`);
    expect((err as Error).message).toContain(sha(files.get('/w.h5') as Buffer));
    const left = await readdir(path.join(cacheDir, wrong));
    expect(left).toEqual([]);
  });

  it('re-downloads a cached file that no longer matches its checksum', async () => {
    const cacheDir = path.join(tmp.dir, 'cache-c');
    const body = files.get('/w.h5') as Buffer;
    const file = await downloadToCache(`${base}/w.h5`, { cacheDir, sha256: sha(body) });
    await writeFile(file, 'tampered');
    const before = hits.length;
    await downloadToCache(`${base}/w.h5`, { cacheDir, sha256: sha(body) });
    expect(hits.length - before).toBe(1);
    expect(await readFile(file)).toEqual(body);
  });

  it('reports HTTP errors and refuses plain http to other hosts', async () => {
    const cacheDir = path.join(tmp.dir, 'cache-d');
    await expect(downloadToCache(`${base}/missing.h5`, { cacheDir })).rejects.toThrow(
      /HTTP 404, expected 200/,
    );
    expect(() => parseWeightsUrl('http://example.com/w.h5')).toThrow(/expected https/);
    expect(parseWeightsUrl('https://example.com/w.h5').protocol).toBe('https:');
    await expect(resolveWeights(`${base}/w.bin`, { cacheDir })).rejects.toThrow(
      /\.h5 or \.keras \(Keras\) or model\.json/,
    );
  });

  it('loads a TF.js model from a model.json URL (shards fetched beside it) and caches it', async () => {
    const cacheDir = path.join(tmp.dir, 'cache-e');
    const config = {
      backbone: 'tiny-remote',
      weights: `${base}/m/model.json`,
      cacheDir,
      featureLayer: 'conv_b',
      preprocessing: 'tf',
      warmup: false,
    } as const;
    const before = hits.length;
    const a = await loadBackbone(config);
    const b = await loadBackbone(config);
    expect(hits.slice(before)).toEqual(['/m/model.json', '/m/weights.bin']);
    const img = noiseImage(8, 8, 5);
    expect(await b.extract([img])).toEqual(await a.extract([img]));
    await a.dispose();
    await b.dispose();
  });
});
