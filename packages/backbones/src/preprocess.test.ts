import { describe, expect, it } from 'vitest';
import { preprocess, preprocessInto } from './preprocess.ts';

const px = new Uint8Array([0, 128, 255, 10, 20, 30]);

describe('preprocess', () => {
  it('rescale multiplies by 1/255 like ImageDataGenerator(rescale=1/255)', () => {
    const out = preprocess(px, 'rescale');
    expect(Array.from(out)).toEqual(
      [0, 128 / 255, 1, 10 / 255, 20 / 255, 30 / 255].map((v) => expect.closeTo(v, 6)),
    );
    expect(out[2]).toBe(1);
  });

  it('caffe swaps RGB to BGR and subtracts the ImageNet means [103.939, 116.779, 123.68]', () => {
    const out = preprocess(px, 'caffe');
    // pixel 1: R=0 G=128 B=255 -> [255-103.939, 128-116.779, 0-123.68]
    expect(out[0]).toBeCloseTo(151.061, 4);
    expect(out[1]).toBeCloseTo(11.221, 4);
    expect(out[2]).toBeCloseTo(-123.68, 4);
    // pixel 2: R=10 G=20 B=30 -> [30-103.939, 20-116.779, 10-123.68]
    expect(out[3]).toBeCloseTo(-73.939, 4);
    expect(out[4]).toBeCloseTo(-96.779, 4);
    expect(out[5]).toBeCloseTo(-113.68, 4);
  });

  it('tf maps 0..255 to -1..1 as x / 127.5 - 1', () => {
    const out = preprocess(px, 'tf');
    expect(out[0]).toBe(-1);
    expect(out[1]).toBeCloseTo(128 / 127.5 - 1, 6);
    expect(out[2]).toBe(1);
    expect(out[3]).toBeCloseTo(10 / 127.5 - 1, 6);
  });

  it('raw keeps the 0..255 values for models that scale inside (Keras EfficientNet)', () => {
    expect(Array.from(preprocess(px, 'raw'))).toEqual([0, 128, 255, 10, 20, 30]);
  });

  it('writes at an offset without touching the rest of the buffer', () => {
    const out = new Float32Array(9).fill(7);
    preprocessInto(new Uint8Array([255, 255, 255]), 'rescale', out, 3);
    expect(Array.from(out)).toEqual([7, 7, 7, 1, 1, 1, 7, 7, 7]);
  });

  it('rejects buffers that are not whole RGB pixels or do not fit', () => {
    expect(() => preprocess(new Uint8Array(4), 'tf')).toThrow(/multiple of 3/);
    expect(() => preprocessInto(new Uint8Array(6), 'tf', new Float32Array(5))).toThrow(/need 6/);
  });
});
