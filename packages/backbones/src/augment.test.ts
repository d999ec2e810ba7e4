import { type AugmentationConfig, augmentationRequest, type FillMode } from '@edgehead/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AugmentationParameters,
  affineMatrix,
  augmentationParameters,
  augmentImage,
  type Matrix3,
  transformImage,
} from './augment.ts';
import { initBackend } from './backend.ts';
import { noiseImage } from './test-fixtures.ts';

const identity: AugmentationParameters = {
  rotation: 0,
  shiftX: 0,
  shiftY: 0,
  shear: 0,
  zoomX: 1,
  zoomY: 1,
  flip: false,
};
const recipe: AugmentationConfig = augmentationRequest.parse({ preset: 'keras-vgg16-augmentation' });

function expectMatrix(got: Matrix3, want: number[]) {
  expect(got).toHaveLength(9);
  for (const [i, v] of want.entries()) expect(got[i]).toBeCloseTo(v, 12);
}

/** An h x w image whose three channels are a * x + b * y + c (a plane: bilinear sampling keeps it exact). */
function plane(h: number, w: number, a: number, b: number, c: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out.fill(a * x + b * y + c, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return out;
}

/** The value a plane image takes where the hand-written `m` samples it, edges clamped ('nearest' fill). */
function sampledPlane(h: number, w: number, m: number[], a: number, b: number, c: number): number[] {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const xi = clamp((m[0] as number) * x + (m[1] as number) * y + (m[2] as number), w - 1);
      const yi = clamp((m[3] as number) * x + (m[4] as number) * y + (m[5] as number), h - 1);
      out.push(a * xi + b * yi + c);
    }
  }
  return out;
}

const firstChannel = (pixels: Uint8Array) => Array.from(pixels.filter((_, i) => i % 3 === 0));

describe('affineMatrix (hand-computed, output pixel -> input point)', () => {
  it('is the identity for the identity transform', () => {
    expectMatrix(affineMatrix(identity, 5, 3), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('rotates about the centre: 90 degrees on 3x3 samples (2 - y, x)', () => {
    expectMatrix(affineMatrix({ ...identity, rotation: 90 }, 3, 3), [0, -1, 2, 1, 0, 0, 0, 0, 1]);
  });

  it('shifts by pixels: x_in = x + 2, y_in = y - 1', () => {
    expectMatrix(affineMatrix({ ...identity, shiftX: 2, shiftY: -1 }, 5, 3), [1, 0, 2, 0, 1, -1, 0, 0, 1]);
  });

  it('shears by degrees about the centre: 30 degrees on 5x3 (centre (2, 1))', () => {
    // x_in = x - sin 30 (y - 1), y_in = cos 30 (y - 1) + 1
    const c = Math.cos(Math.PI / 6);
    expectMatrix(affineMatrix({ ...identity, shear: 30 }, 5, 3), [1, -0.5, 0.5, 0, c, 1 - c, 0, 0, 1]);
  });

  it('zooms x and y independently about the centre', () => {
    // x_in = 2 (x - 2) + 2, y_in = 0.5 (y - 1) + 1
    expectMatrix(affineMatrix({ ...identity, zoomX: 2, zoomY: 0.5 }, 5, 3), [2, 0, -2, 0, 0.5, 0.5, 0, 0, 1]);
  });

  it('mirrors the output for a flip: x_in = w - 1 - x', () => {
    expectMatrix(affineMatrix({ ...identity, flip: true }, 5, 3), [-1, 0, 4, 0, 1, 0, 0, 0, 1]);
  });

  it("composes in Keras's order: the shift happens in the rotated frame", () => {
    // C . R(90) . T(1, 0) . C^-1 on 3x3: x_in = 2 - y, y_in = x + 1
    expectMatrix(affineMatrix({ ...identity, rotation: 90, shiftX: 1 }, 3, 3), [0, -1, 2, 1, 0, 1, 0, 0, 1]);
  });
});

describe.each(['wasm', 'cpu'] as const)('transformImage on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: [backend] });
  });

  it('leaves an image unchanged under the identity', () => {
    const img = noiseImage(4, 5, 1);
    expect(transformImage(img, [4, 5], affineMatrix(identity, 5, 4), 'nearest')).toEqual(img);
  });

  it('rotates a 3x3 image by 90 degrees into out(x, y) = in(2 - y, x)', () => {
    const img = noiseImage(3, 3, 2);
    const out = transformImage(img, [3, 3], affineMatrix({ ...identity, rotation: 90 }, 3, 3), 'constant');
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) {
        const src = (x * 3 + (2 - y)) * 3;
        expect(Array.from(out.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3))).toEqual(
          Array.from(img.subarray(src, src + 3)),
        );
      }
    }
  });

  it.each([
    ['rotation 30', { rotation: 30 }, 30, 0],
    ['shear 30 (x)', { shear: 30 }, 30, 0],
    ['shear 30 (y)', { shear: 30 }, 0, 30],
    ['zoom x 0.8', { zoomX: 0.8 }, 30, 0],
    ['zoom y 1.2', { zoomY: 1.2 }, 0, 30],
    ['shift x 1.5', { shiftX: 1.5 }, 30, 0],
  ])('samples a plane image where the hand-computed matrix says: %s', (_, change, a, b) => {
    const [h, w] = [5, 7];
    const m = affineMatrix({ ...identity, ...change }, w, h);
    const out = firstChannel(transformImage(plane(h, w, a, b, 20), [h, w], m, 'nearest'));
    const want = sampledPlane(h, w, [...m], a, b, 20);
    for (const [i, v] of want.entries()) expect(Math.abs((out[i] as number) - v)).toBeLessThanOrEqual(0.5001);
  });

  it('flips left-right exactly', () => {
    const img = noiseImage(2, 3, 3);
    const out = transformImage(img, [2, 3], affineMatrix({ ...identity, flip: true }, 3, 2), 'nearest');
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const src = (y * 3 + (2 - x)) * 3;
        expect(Array.from(out.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3))).toEqual(
          Array.from(img.subarray(src, src + 3)),
        );
      }
    }
  });

  it.each([
    ['nearest', [30, 40, 40, 40]], // a b c d | d d
    ['reflect', [30, 40, 40, 30]], // a b c d | d c
    ['wrap', [30, 40, 10, 20]], //    a b c d | a b
    ['constant', [30, 40, 0, 0]], //  a b c d | 0 0
  ] as [FillMode, number[]][])('fills points past the edge in %s mode', (mode, want) => {
    // The row a b c d = 10 20 30 40 shifted by two pixels: out(x) = in(x + 2).
    const img = plane(1, 4, 10, 0, 10);
    const out = transformImage(img, [1, 4], affineMatrix({ ...identity, shiftX: 2 }, 4, 1), mode);
    expect(firstChannel(out)).toEqual(want);
  });

  it('rejects an image of the wrong size, naming the expected bytes', () => {
    expect(() => transformImage(new Uint8Array(5), [2, 2], affineMatrix(identity, 2, 2), 'nearest')).toThrow(
      /5 bytes, expected 2x2x3 = 12/,
    );
  });
});

describe('augmentationParameters', () => {
  const image = { key: 'sha-of-cat-1', width: 150, height: 150 };

  it('gives the same parameters for the same seed, image and copy, whatever was drawn before', () => {
    const a = augmentationParameters(recipe, image, 3);
    augmentationParameters(recipe, { ...image, key: 'other' }, 0);
    expect(augmentationParameters(recipe, image, 3)).toEqual(a);
    expect(augmentationParameters(recipe, image, 4)).not.toEqual(a);
    expect(augmentationParameters({ ...recipe, seed: 1 }, image, 3)).not.toEqual(a);
    expect(augmentationParameters(recipe, { ...image, key: 'sha-of-cat-2' }, 3)).not.toEqual(a);
  });

  it("draws within Keras's ranges and covers them", () => {
    const draws = Array.from({ length: 2000 }, (_, i) => augmentationParameters(recipe, image, i));
    const range = (f: (p: AugmentationParameters) => number) => {
      const v = draws.map(f);
      return [Math.min(...v), Math.max(...v)];
    };
    const within = ([lo, hi]: number[], min: number, max: number) => {
      expect(lo).toBeGreaterThanOrEqual(min);
      expect(hi).toBeLessThanOrEqual(max);
      expect(lo).toBeLessThan(min + (max - min) * 0.01);
      expect(hi).toBeGreaterThan(max - (max - min) * 0.01);
    };
    within(
      range((p) => p.rotation),
      -40,
      40,
    );
    within(
      range((p) => p.shiftX),
      -30,
      30,
    ); // 0.2 x 150 pixels
    within(
      range((p) => p.shiftY),
      -30,
      30,
    );
    within(
      range((p) => p.shear),
      -0.2,
      0.2,
    );
    within(
      range((p) => p.zoomX),
      0.8,
      1.2,
    );
    within(
      range((p) => p.zoomY),
      0.8,
      1.2,
    );
    const flips = draws.filter((p) => p.flip).length / draws.length;
    expect(flips).toBeGreaterThan(0.45);
    expect(flips).toBeLessThan(0.55);
    // zoom x and y are drawn independently
    expect(draws.filter((p) => p.zoomX === p.zoomY)).toHaveLength(0);
  });

  it('keeps a parameter at its identity when its range is 0, and other draws unchanged', () => {
    const noRotation = { ...recipe, rotation: 0, zoom: 0, horizontalFlip: false };
    const p = augmentationParameters(noRotation, image, 7);
    expect(p).toMatchObject({ rotation: 0, zoomX: 1, zoomY: 1, flip: false });
    expect(p.shiftX).toBe(augmentationParameters(recipe, image, 7).shiftX);
  });

  it('rejects a copy index that is not an integer >= 0', () => {
    expect(() => augmentationParameters(recipe, image, -1)).toThrow(/copy: -1, expected an integer >= 0/);
  });
});

describe('augmentImage', () => {
  beforeAll(async () => {
    await initBackend({ prefer: ['wasm'] });
  });

  it('makes `copies` seeded copies, each its own transform, the same on every call', () => {
    const img = noiseImage(16, 16, 4);
    const config = { ...recipe, copies: 3 };
    const copies = augmentImage(img, [16, 16], config, 'img-1');
    expect(copies).toHaveLength(3);
    for (const copy of copies) expect(copy).not.toEqual(img);
    expect(copies[0]).not.toEqual(copies[1]);
    expect(augmentImage(img, [16, 16], config, 'img-1')).toEqual(copies);
    const [second] = augmentImage(img, [16, 16], { ...config, copies: 1 }, 'img-1');
    expect(second).toEqual(copies[0]);
    const p = augmentationParameters(config, { key: 'img-1', width: 16, height: 16 }, 2);
    expect(copies[2]).toEqual(transformImage(img, [16, 16], affineMatrix(p, 16, 16), 'nearest'));
  });
});
