/**
 * Source index of each output index along one axis of Pillow's `Image.resize(size, Image.NEAREST)` (what
 * Keras `load_img` and `flow_from_directory` use), with Pillow's own arithmetic from `ImagingScaleAffine`
 * (libImaging/Geometry.c): the scale is the double `in / out`, the coordinate starts at half a step, grows
 * by repeated addition and is truncated. The rounding that addition accumulates is what sends exact ties
 * such as (i + 0.5) * 4/3 = 34.0 to 33, so a closed formula like floor((i + 0.5) * in / out) is not it.
 * @example pilNearestIndices(200, 150).slice(24, 27) // Int32Array [32, 33, 35]
 */
export function pilNearestIndices(inSize: number, outSize: number): Int32Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`sizes ${inSize} -> ${outSize}: expected positive integers`);
  }
  // _resize: a[0] = (double)(box[2] - box[0]) / xsize with box = (0, 0, in, in) as floats, exact here.
  const scale = inSize / outSize;
  const indices = new Int32Array(outSize);
  // xo = a[2] + a[0] * 0.5 with a[2] = 0; the coordinate is never negative, so COORD(v) is (int)v.
  let coord = scale * 0.5;
  for (let i = 0; i < outSize; i++) {
    indices[i] = Math.trunc(coord);
    coord += scale;
  }
  return indices;
}

/**
 * Resizes row-major interleaved pixels (`channels` bytes per pixel) to `outWidth` x `outHeight` picking
 * the source pixel Pillow's NEAREST picks (`pilNearestIndices` on each axis, as Pillow's scale is separable).
 */
export function resizeNearestPil(
  pixels: Uint8Array,
  size: { width: number; height: number; channels: number },
  outWidth: number,
  outHeight: number,
): Uint8Array {
  const { width, height, channels } = size;
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `pixels: ${pixels.length} bytes, expected ${width}x${height}x${channels} = ${width * height * channels}`,
    );
  }
  const xs = pilNearestIndices(width, outWidth);
  const ys = pilNearestIndices(height, outHeight);
  const out = new Uint8Array(outWidth * outHeight * channels);
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const row = (ys[y] as number) * width;
    for (let x = 0; x < outWidth; x++) {
      const src = (row + (xs[x] as number)) * channels;
      for (let c = 0; c < channels; c++) out[o++] = pixels[src + c] as number;
    }
  }
  return out;
}
