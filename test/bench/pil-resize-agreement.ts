/**
 * How closely edgehead's `nearest` resize agrees with Pillow's NEAREST (what Keras `load_img` uses), before
 * (sharp's nearest kernel, the previous `decodeImage`) and after (`resizeNearestPil`), on the shared
 * cats-vs-dogs photos (200x200 JPEGs) resized to 150x150 (VGG16) and 224x224 (MobileNet), and on the same
 * photos re-encoded as 640x480 and 123x123 JPEGs (a large downscale and an upscale).
 *
 * Per case: the share of output pixels whose source pixel is Pillow's (sharp's map read off a coordinate
 * image, Pillow's from Pillow itself); against Pillow resizing the very pixels sharp decoded, the share of
 * identical output pixels and the mean |difference| (0-255); against Keras's whole path (Pillow decodes the
 * JPEG too, so decoder differences stay); and for MobileNet v1 (../shared weights, avg pooling) the cosine
 * distance of features from Pillow's resize of the same pixels.
 *
 * Run: BENCH_PYTHON=/usr/bin/python3 npx tsx test/bench/pil-resize-agreement.ts
 *   BENCH_PYTHON   a Python with Pillow (default python3)
 *   BENCH_IMAGES   photos per case (default: all 4000)
 *   BENCH_FEATURE_IMAGES  photos whose MobileNet features are compared (default 200; 0 skips)
 * Writes bench-results/pil-resize-agreement.json; exits non-zero on any error, and when `resizeNearestPil` does
 * not pick Pillow's source pixel for every output pixel (its promise). Smoke mode (EDGEHEAD_BENCH_SMOKE=1): 8
 * photos per case, 2 for features. Without the shared photos it reports itself skipped.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeImage, loadBackbone, pilNearestIndices } from '@edgehead/backbones';
import sharp from 'sharp';
import { benchEnv } from './lib/env.ts';
import { BenchReport, envNumber, ROOT } from './lib/harness.ts';

const shared = benchEnv.EDGEHEAD_SHARED_DIR ?? path.resolve(ROOT, '../shared');
const photosDir = path.join(shared, 'datasets/cats_and_dogs_small');
const python = benchEnv.BENCH_PYTHON ?? 'python3';
const limit = envNumber('BENCH_IMAGES', Number.POSITIVE_INFINITY, 8);
const featureImages = envNumber('BENCH_FEATURE_IMAGES', 200, 2);
const report = new BenchReport('pil-resize-agreement');
if (!existsSync(photosDir)) {
  console.log(`pil-resize-agreement skipped: ${photosDir} is absent (set EDGEHEAD_SHARED_DIR)`);
  report.finish([], { skipped: `absent: ${photosDir}` });
  process.exit();
}
const CHUNK = 200;

/** A source size (undefined: the photo as it is) and a target size, both [width, height]. */
interface Case {
  source: [number, number] | undefined;
  target: [number, number];
}
const CASES: Case[] = [
  { source: undefined, target: [150, 150] },
  { source: undefined, target: [224, 224] },
  { source: [640, 480], target: [150, 150] },
  { source: [123, 123], target: [150, 150] },
];

/** The previous `decodeImage` nearest: sharp's nearest kernel on the encoded image (shrink-on-load too). */
async function sharpNearest(jpeg: Uint8Array, [w, h]: [number, number]): Promise<Uint8Array> {
  const data = await sharp(jpeg)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(w, h, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer();
  return new Uint8Array(data);
}

/**
 * Source pixel sharp's nearest kernel takes for every output pixel of a [w, h] -> [ow, oh] resize, read off
 * an image of its own coordinates (x in R and the low half of G, y in B and the high half of G).
 */
async function sharpSourceMap([w, h]: [number, number], [ow, oh]: [number, number]): Promise<SourceMap> {
  const coords = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      coords[p] = x & 255;
      coords[p + 1] = (x >> 8) | ((y >> 8) << 4);
      coords[p + 2] = y & 255;
    }
  }
  const out = await sharp(coords, { raw: { width: w, height: h, channels: 3 } })
    .resize(ow, oh, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer();
  const xs = new Int32Array(ow * oh);
  const ys = new Int32Array(ow * oh);
  for (let i = 0; i < ow * oh; i++) {
    const g = out[i * 3 + 1] as number;
    xs[i] = (out[i * 3] as number) + (g & 15) * 256;
    ys[i] = (out[i * 3 + 2] as number) + (g >> 4) * 256;
  }
  return { xs, ys };
}

/** Share of output pixels whose source pixel is Pillow's (its per-axis maps; its resize is separable). */
function sourceAgreement(
  maps: Record<string, number[]>,
  [w, h]: [number, number],
  [ow, oh]: [number, number],
  got: SourceMap,
): number {
  const mx = maps[`${w}->${ow}`] ?? [];
  const my = maps[`${h}->${oh}`] ?? [];
  let same = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const i = y * ow + x;
      if (got.xs[i] === mx[x] && got.ys[i] === my[y]) same++;
    }
  }
  return same / (ow * oh);
}

/** `pilNearestIndices` on both axes, laid out as `sharpSourceMap` returns it. */
function edgeheadSourceMap([w, h]: [number, number], [ow, oh]: [number, number]): SourceMap {
  const mx = pilNearestIndices(w, ow);
  const my = pilNearestIndices(h, oh);
  const xs = new Int32Array(ow * oh);
  const ys = new Int32Array(ow * oh);
  for (let i = 0; i < ow * oh; i++) {
    xs[i] = mx[i % ow] as number;
    ys[i] = my[Math.floor(i / ow)] as number;
  }
  return { xs, ys };
}

type SourceMap = { xs: Int32Array; ys: Int32Array };

interface PixelStats {
  identical: number;
  meanAbs: number;
}
function pixelStats(a: Uint8Array, b: Uint8Array): PixelStats {
  let same = 0;
  let abs = 0;
  for (let p = 0; p < a.length; p += 3) {
    let d = 0;
    for (let c = 0; c < 3; c++) d += Math.abs((a[p + c] as number) - (b[p + c] as number));
    if (d === 0) same++;
    abs += d;
  }
  return { identical: same / (a.length / 3), meanAbs: abs / a.length };
}

function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return 1 - dot / Math.sqrt(na * nb);
}

async function listPhotos(): Promise<string[]> {
  const files: string[] = [];
  for (const split of ['train', 'validation', 'test']) {
    for (const cls of ['cats', 'dogs']) {
      const dir = path.join(photosDir, split, cls);
      for (const f of (await readdir(dir)).sort()) if (f.endsWith('.jpg')) files.push(path.join(dir, f));
    }
  }
  return files.slice(0, limit);
}

/** Runs pil-resize.py on one chunk; returns Pillow's per-axis maps. */
async function runPillow(manifest: unknown, dir: string): Promise<Record<string, number[]>> {
  const file = path.join(dir, 'manifest.json');
  await writeFile(file, JSON.stringify(manifest));
  await promisify(execFile)(python, [path.join(import.meta.dirname, 'pil-resize.py'), file], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(await readFile(`${file}.maps.json`, 'utf8'));
}

interface Totals {
  images: number;
  sourceBefore: number;
  sourceAfter: number;
  sameBefore: PixelStats;
  sameAfter: PixelStats;
  kerasBefore: PixelStats;
  kerasAfter: PixelStats;
}
const add = (t: PixelStats, s: PixelStats) => {
  t.identical += s.identical;
  t.meanAbs += s.meanAbs;
};

async function measureCase(c: Case, photos: string[], tmp: string): Promise<Totals> {
  const t: Totals = {
    images: 0,
    sourceBefore: 0,
    sourceAfter: 0,
    sameBefore: { identical: 0, meanAbs: 0 },
    sameAfter: { identical: 0, meanAbs: 0 },
    kerasBefore: { identical: 0, meanAbs: 0 },
    kerasAfter: { identical: 0, meanAbs: 0 },
  };
  const [w, h] = c.target;
  const sharpMaps = new Map<string, SourceMap>();
  for (let start = 0; start < photos.length; start += CHUNK) {
    const items: { jpeg: string; raw: string; width: number; height: number }[] = [];
    const jpegs: Uint8Array[] = [];
    for (const [i, photo] of photos.slice(start, start + CHUNK).entries()) {
      let jpeg: Uint8Array = await readFile(photo);
      if (c.source) {
        jpeg = await sharp(jpeg)
          .resize(c.source[0], c.source[1], { fit: 'fill', kernel: 'lanczos3' })
          .jpeg({ quality: 95 })
          .toBuffer();
      }
      const { data, info } = await sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer({
        resolveWithObject: true,
      });
      const base = path.join(tmp, String(i));
      await writeFile(`${base}.jpg`, jpeg);
      await writeFile(base, data);
      items.push({ jpeg: `${base}.jpg`, raw: base, width: info.width, height: info.height });
      jpegs.push(jpeg);
    }
    const pairs = new Set(items.flatMap((it) => [`${it.width}->${w}`, `${it.height}->${h}`]));
    const maps = await runPillow(
      { targets: [c.target], items, pairs: [...pairs].map((p) => p.split('->').map(Number)) },
      tmp,
    );
    for (const [i, item] of items.entries()) {
      const jpeg = jpegs[i] as Uint8Array;
      const same = new Uint8Array(await readFile(`${item.raw}.${w}x${h}.same`));
      const keras = new Uint8Array(await readFile(`${item.raw}.${w}x${h}.keras`));
      const before = await sharpNearest(jpeg, c.target);
      const after = (await decodeImage(jpeg, [h, w])).pixels;
      const size: [number, number] = [item.width, item.height];
      const key = size.join('x');
      sharpMaps.set(key, sharpMaps.get(key) ?? (await sharpSourceMap(size, c.target)));
      t.sourceBefore += sourceAgreement(maps, size, c.target, sharpMaps.get(key) as SourceMap);
      t.sourceAfter += sourceAgreement(maps, size, c.target, edgeheadSourceMap(size, c.target));
      add(t.sameBefore, pixelStats(before, same));
      add(t.sameAfter, pixelStats(after, same));
      add(t.kerasBefore, pixelStats(before, keras));
      add(t.kerasAfter, pixelStats(after, keras));
      t.images++;
    }
  }
  return t;
}

/** MobileNet v1 features of Pillow's resize of sharp's decode vs before and after, at 224x224. */
async function featureDistances(photos: string[], tmp: string) {
  const weights = path.join(shared, 'models/mobilenet_v1_0.75_224');
  if (featureImages === 0 || !existsSync(weights)) return null;
  const net = await loadBackbone({ backbone: 'mobilenet_v1_0.75', weights, pooling: 'avg' });
  const worst = { before: 0, after: 0 };
  const mean = { before: 0, after: 0 };
  const subset = photos.slice(0, featureImages);
  try {
    for (const [i, photo] of subset.entries()) {
      const jpeg = await readFile(photo);
      const { data, info } = await sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer({
        resolveWithObject: true,
      });
      const raw = path.join(tmp, `f${i}`);
      await writeFile(`${raw}.jpg`, jpeg);
      await writeFile(raw, data);
      await runPillow(
        {
          targets: [[224, 224]],
          items: [{ jpeg: `${raw}.jpg`, raw, width: info.width, height: info.height }],
          pairs: [],
        },
        tmp,
      );
      const pillow = new Uint8Array(await readFile(`${raw}.224x224.same`));
      const before = await sharpNearest(jpeg, [224, 224]);
      const after = (await decodeImage(jpeg, [224, 224])).pixels;
      const [fp, fb, fa] = (await net.extract([pillow, before, after])) as [
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const db = cosineDistance(fb, fp);
      const da = cosineDistance(fa, fp);
      worst.before = Math.max(worst.before, db);
      worst.after = Math.max(worst.after, da);
      mean.before += db / subset.length;
      mean.after += da / subset.length;
    }
  } finally {
    await net.dispose();
  }
  return { images: subset.length, worst, mean };
}

try {
  const photos = await listPhotos();
  if (photos.length === 0) throw new Error(`no photos under ${photosDir}`);
  const tmp = await mkdtemp(path.join(tmpdir(), 'edgehead-pil-bench-'));
  const rows = [];
  let features: Awaited<ReturnType<typeof featureDistances>>;
  try {
    for (const c of CASES) {
      const t = await measureCase(c, photos, tmp);
      const avg = (s: PixelStats) => ({ identical: s.identical / t.images, meanAbs: s.meanAbs / t.images });
      rows.push({
        source: c.source ? `${c.source[0]}x${c.source[1]} JPEG` : 'photo (200x200 JPEG)',
        target: `${c.target[0]}x${c.target[1]}`,
        images: t.images,
        sourcePixelBefore: t.sourceBefore / t.images,
        sourcePixelAfter: t.sourceAfter / t.images,
        samePixelsBefore: avg(t.sameBefore),
        samePixelsAfter: avg(t.sameAfter),
        kerasPathBefore: avg(t.kerasBefore),
        kerasPathAfter: avg(t.kerasAfter),
      });
    }
    features = await featureDistances(photos, tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  for (const r of rows) {
    report.check(
      r.sourcePixelAfter === 1 && r.samePixelsAfter.identical === 1,
      `${r.source} -> ${r.target}: after, ${pct(r.sourcePixelAfter)} of source pixels are Pillow's and ${pct(r.samePixelsAfter.identical)} of pixels identical (expected 100%)`,
    );
  }
  report.finish(
    rows.map((r) => ({
      source: r.source,
      target: r.target,
      images: r.images,
      'Pillow source px, before': pct(r.sourcePixelBefore),
      after: pct(r.sourcePixelAfter),
      'same decode: identical px, before': pct(r.samePixelsBefore.identical),
      'after ': pct(r.samePixelsAfter.identical),
      'mean |d| before': r.samePixelsBefore.meanAbs.toFixed(3),
      'after  ': r.samePixelsAfter.meanAbs.toFixed(3),
      'Keras path: identical px, before': pct(r.kerasPathBefore.identical),
      '  after': pct(r.kerasPathAfter.identical),
      'mean |d|, before': r.kerasPathBefore.meanAbs.toFixed(3),
      ' after': r.kerasPathAfter.meanAbs.toFixed(3),
    })),
    { rows, features },
  );
  if (features) {
    console.log(
      `MobileNet v1 avg features at 224x224 vs Pillow's resize of the same decode (${features.images} photos): ` +
        `1-cos worst ${features.worst.before.toExponential(2)} before, ${features.worst.after.toExponential(2)} after; ` +
        `mean ${features.mean.before.toExponential(2)} before, ${features.mean.after.toExponential(2)} after`,
    );
  }
  process.exit();
} catch (error) {
  console.error(error);
  process.exit(1);
}
