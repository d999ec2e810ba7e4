import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isBackboneError } from './errors.ts';
import { decodeImage } from './image.ts';
import { noiseImage } from './test-fixtures.ts';

async function solid(width: number, height: number, rgb: [number, number, number], format: 'png' | 'jpeg') {
  const img = sharp({
    create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isBackboneError(err) ? err.code : String(err);
}

describe('decodeImage', () => {
  it('resizes to the backbone input and keeps the original size', async () => {
    const out = await decodeImage(await solid(40, 30, [200, 100, 50], 'png'), [16, 24]);
    expect(out).toMatchObject({
      width: 24,
      height: 16,
      originalWidth: 40,
      originalHeight: 30,
      format: 'png',
    });
    expect(out.pixels.length).toBe(16 * 24 * 3);
    expect(Array.from(out.pixels.subarray(0, 3))).toEqual([200, 100, 50]);
  });

  it('turns grayscale and alpha images into 3-channel RGB', async () => {
    const gray = await sharp({ create: { width: 5, height: 5, channels: 3, background: '#808080' } })
      .grayscale()
      .png()
      .toBuffer();
    const rgba = await sharp({
      create: { width: 5, height: 5, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 1 } },
    })
      .png()
      .toBuffer();
    expect(Array.from((await decodeImage(gray, [2, 2])).pixels.subarray(0, 3))).toEqual([128, 128, 128]);
    expect(Array.from((await decodeImage(rgba, [2, 2])).pixels.subarray(0, 3))).toEqual([10, 20, 30]);
  });

  it('rejects bytes that are not an image', async () => {
    expect(await codeOf(decodeImage(new TextEncoder().encode('hello, not a jpeg'), [8, 8]))).toBe(
      'not_an_image',
    );
  });

  it('rejects a truncated JPEG as corrupt', async () => {
    const jpeg = await sharp(noiseImage(128, 128, 9), { raw: { width: 128, height: 128, channels: 3 } })
      .jpeg()
      .toBuffer();
    expect(await codeOf(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), [8, 8]))).toBe(
      'corrupt_image',
    );
  });

  it('rejects images with more pixels than the limit, naming both', async () => {
    const png = await solid(100, 50, [0, 0, 0], 'png');
    await expect(decodeImage(png, [8, 8], { maxPixels: 4999 })).rejects.toThrow(
      /100x50 = 5000 pixels, more than the limit of 4999/,
    );
    await expect(decodeImage(png, [8, 8], { maxPixels: 5000 })).resolves.toMatchObject({
      originalWidth: 100,
    });
  });
});
