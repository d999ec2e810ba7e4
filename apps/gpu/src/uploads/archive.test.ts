import { gzipSync } from 'node:zlib';
import { ApiError } from '@edgehead/contracts';
import { zipSync } from 'fflate';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { archiveFormat, readArchive } from './archive.ts';
import { labelsFromPath } from './paths.ts';

const limits = { maxTotalBytes: 1_000_000, maxEntries: 50, maxEntryBytes: 100_000 };
const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

async function tarball(entries: { name: string; data: Uint8Array }[], gzip: boolean): Promise<Uint8Array> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name }, Buffer.from(e.data));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return new Uint8Array(gzip ? gzipSync(raw) : raw);
}

/** Rewrites the declared uncompressed size of every central directory entry (a lying bomb). */
function lieAboutSizes(zip: Uint8Array, declared: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  for (let p = 0; p + 46 <= out.length; p++) {
    if (view.getUint32(p, true) === 0x02014b50) view.setUint32(p + 24, declared, true);
  }
  return out;
}

describe('readArchive', () => {
  it('reads zip members and refuses .., absolute paths and symlinks per entry', async () => {
    const zip = zipSync({
      'train/cats/a.jpg': bytes(10, 1),
      '../x/train/cats/b.jpg': bytes(10, 2),
      '/abs/train/cats/c.jpg': bytes(10, 3),
      'train/cats/link.jpg': [new TextEncoder().encode('/etc/passwd'), { os: 3, attrs: 0o120777 << 16 }],
      'train/dogs/': new Uint8Array(),
    });
    expect(archiveFormat(zip)).toBe('zip');
    const entries = await readArchive(zip, limits);
    const link = entries.find((e) => e.name === 'train/cats/link.jpg');
    expect(link).toMatchObject({ rejected: { reason: 'unsafe_path' } });
    const a = entries.find((e) => e.name === 'train/cats/a.jpg');
    expect(a && 'data' in a ? Array.from(a.data) : null).toEqual(Array.from(bytes(10, 1)));
    // The archive reader hands names through; the path check refuses them before anything is stored.
    expect(labelsFromPath('../x/train/cats/b.jpg', {})).toMatchObject({ ok: false, reason: 'unsafe_path' });
    expect(labelsFromPath('/abs/train/cats/c.jpg', {})).toMatchObject({ ok: false, reason: 'unsafe_path' });
    expect(labelsFromPath('C:\\x\\train\\cats\\c.jpg', {})).toMatchObject({
      ok: false,
      reason: 'unsafe_path',
    });
    expect(entries.some((e) => e.name.endsWith('/'))).toBe(false);
  });

  it('refuses a zip member whose declared size lies, by what it inflates to', async () => {
    const zip = lieAboutSizes(zipSync({ 'train/cats/bomb.jpg': bytes(300_000, 0) }, { level: 9 }), 100);
    const [entry] = await readArchive(zip, limits);
    expect(entry).toMatchObject({ rejected: { reason: 'too_large' } });
  });

  it('refuses a whole zip or tar.gz that inflates past the total limit with a 413', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`train/cats/${i}.jpg`, bytes(90_000, 0)] as const),
    );
    const zip = zipSync(files, { level: 9 });
    expect(zip.length).toBeLessThan(50_000);
    await expect(readArchive(zip, limits)).rejects.toMatchObject({ status: 413 });
    const tgz = await tarball([{ name: 'train/cats/huge.jpg', data: bytes(5_000_000, 0) }], true);
    expect(tgz.length).toBeLessThan(50_000);
    const err = await readArchive(tgz, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 413, details: { limit: 'maxArchiveBytes' } });
  });

  it('refuses archives with too many entries with a 413', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ name: `train/cats/${i}.jpg`, data: bytes(1) }));
    await expect(readArchive(await tarball(many, false), limits)).rejects.toMatchObject({
      status: 413,
      details: { limit: 'maxArchiveEntries' },
    });
    const zip = zipSync(Object.fromEntries(many.map((m) => [m.name, m.data])));
    await expect(readArchive(zip, limits)).rejects.toMatchObject({ status: 413 });
  });

  it('refuses one oversized tar member and keeps the others', async () => {
    const tgz = await tarball(
      [
        { name: 'train/cats/big.jpg', data: bytes(200_000) },
        { name: 'train/cats/ok.jpg', data: bytes(5) },
      ],
      true,
    );
    const entries = await readArchive(tgz, limits);
    expect(entries.map((e) => ('data' in e ? e.data.length : e.rejected.reason))).toEqual(['too_large', 5]);
  });

  it('answers 400 for a corrupt gzip and 415 for something else', async () => {
    const tgz = await tarball([{ name: 'train/cats/a.jpg', data: bytes(5000, 3) }], true);
    await expect(readArchive(tgz.slice(0, 40), limits)).rejects.toMatchObject({ status: 400 });
    await expect(readArchive(bytes(600), limits)).rejects.toMatchObject({ status: 415 });
  });
});

describe('labelsFromPath', () => {
  it('reads split and label from the last folders and lets batch fields win', () => {
    expect(labelsFromPath('cats_and_dogs_small/train/cats/cat.1.jpg', {})).toMatchObject({
      ok: true,
      split: 'train',
      label: 'cats',
    });
    expect(labelsFromPath('cats/1.jpg', { split: 'test' })).toMatchObject({ split: 'test', label: 'cats' });
    expect(labelsFromPath('val/dogs/1.jpg', {})).toMatchObject({ split: 'validation', label: 'dogs' });
    expect(labelsFromPath('x/y/1.jpg', { split: 'train', label: 'cats' })).toMatchObject({
      split: 'train',
      label: 'cats',
    });
    expect(labelsFromPath('__MACOSX/train/cats/._1.jpg', {})).toMatchObject({ ok: false });
  });
});
