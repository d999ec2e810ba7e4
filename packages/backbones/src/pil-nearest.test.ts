import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './image.ts';
import { pilNearestIndices, resizeNearestPil } from './pil-nearest.ts';
import { noiseImage } from './test-fixtures.ts';

/** Pillow's own maps, written by scripts/pil-nearest-maps.py: `<in> <out> <first> <base-36 steps>`. */
const pillowMaps = new Map<string, number[]>();
const fixture = readFileSync(new URL('./fixtures/pil-nearest-maps.txt', import.meta.url), 'utf8');
for (const line of fixture.split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [inSize, outSize, first, steps = ''] = line.split(' ');
  const indices = [Number(first)];
  for (const step of steps) indices.push((indices.at(-1) as number) + Number.parseInt(step, 36));
  pillowMaps.set(`${inSize}->${outSize}`, indices);
}
const pillow = (inSize: number, outSize: number) => {
  const map = pillowMaps.get(`${inSize}->${outSize}`);
  if (map === undefined) throw new Error(`no Pillow map for ${inSize} -> ${outSize} in the fixture`);
  return map;
};

describe('pilNearestIndices', () => {
  it('picks the source index Pillow picks for every size pair in the fixture', () => {
    expect(pillowMaps.size).toBeGreaterThan(600);
    const wrong: string[] = [];
    for (const [pair, expected] of pillowMaps) {
      const [inSize, outSize] = pair.split('->').map(Number) as [number, number];
      const got = Array.from(pilNearestIndices(inSize, outSize));
      if (got.join() !== expected.join()) wrong.push(pair);
    }
    expect(wrong).toEqual([]);
  });

  it("lands on Pillow's side of exact ties where a closed formula does not", () => {
    // (i + 0.5) * 200/150 is exactly 34 at i = 25: the accumulated coordinate is a hair below it.
    const closed = (inSize: number, outSize: number) =>
      Array.from({ length: outSize }, (_, i) => Math.floor(((i + 0.5) * inSize) / outSize));
    expect(pillow(200, 150)[25]).toBe(33);
    expect(pilNearestIndices(200, 150)[25]).toBe(33);
    expect(closed(200, 150)[25]).toBe(34);
    // Upscaling has such ties too: (3 + 0.5) * 2/7 is exactly 1 at i = 3.
    expect(pillow(2, 7)[3]).toBe(0);
    expect(closed(2, 7)[3]).toBe(1);
    expect(pilNearestIndices(2, 7)[3]).toBe(0);
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => pilNearestIndices(0, 150)).toThrow(/0 -> 150: expected positive integers/);
    expect(() => pilNearestIndices(200, 1.5)).toThrow(RangeError);
  });
});

describe('resizeNearestPil', () => {
  it('takes row ymap[y], column xmap[x] of the source for a rectangle', () => {
    const [w, h, ow, oh] = [640, 480, 150, 120];
    const src = noiseImage(h, w, 4);
    const out = resizeNearestPil(src, { width: w, height: h, channels: 3 }, ow, oh);
    const xs = pillow(640, 150);
    const ys = pilNearestIndices(480, 120);
    for (const [y, x] of [
      [0, 0],
      [37, 101],
      [oh - 1, ow - 1],
    ] as const) {
      const s = ((ys[y] as number) * w + (xs[x] as number)) * 3;
      expect(Array.from(out.subarray((y * ow + x) * 3, (y * ow + x) * 3 + 3))).toEqual(
        Array.from(src.subarray(s, s + 3)),
      );
    }
  });

  it('names the expected byte count when the buffer does not match the size', () => {
    expect(() => resizeNearestPil(new Uint8Array(10), { width: 2, height: 2, channels: 3 }, 1, 1)).toThrow(
      /10 bytes, expected 2x2x3 = 12/,
    );
  });
});

describe('decodeImage nearest', () => {
  it.each([
    [200, 200, 150, 150],
    [123, 123, 150, 150],
    [640, 480, 150, 150],
  ])('resizes a %ix%i PNG to %ix%i with the source pixels Pillow picks', async (w, h, ow, oh) => {
    const src = noiseImage(h, w, w + h);
    const png = await sharp(src, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer();
    const { pixels } = await decodeImage(png, [oh, ow]);
    const xs = pillow(w, ow);
    const ys = pillow(h, oh);
    let mismatches = 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const s = ((ys[y] as number) * w + (xs[x] as number)) * 3;
        const o = (y * ow + x) * 3;
        for (let c = 0; c < 3; c++) if (pixels[o + c] !== src[s + c]) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('keeps sharp resampling for the linear kernel', async () => {
    const src = noiseImage(200, 200, 5);
    const png = await sharp(src, { raw: { width: 200, height: 200, channels: 3 } })
      .png()
      .toBuffer();
    const linear = await decodeImage(png, [150, 150], { kernel: 'linear' });
    const expected = await sharp(png).resize(150, 150, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    expect(Buffer.from(linear.pixels).equals(expected)).toBe(true);
  });
});
