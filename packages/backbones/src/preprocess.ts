import type { Preprocessing } from '@edgehead/contracts';

// Keras computes in float32 with float32 constants; rounding the constants the same way keeps
// our values bit-identical to `preprocess_input` / `ImageDataGenerator(rescale=1/255)`.
const RESCALE = Math.fround(1 / 255);
const TF_SCALE = Math.fround(127.5);
/** ImageNet channel means in BGR order, as keras.applications.imagenet_utils (caffe mode) subtracts them. */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;
const MEAN_B = Math.fround(CAFFE_MEAN_BGR[0]);
const MEAN_G = Math.fround(CAFFE_MEAN_BGR[1]);
const MEAN_R = Math.fround(CAFFE_MEAN_BGR[2]);

/**
 * Scales interleaved RGB bytes (HWC) into `out` (same length) with the given Keras preprocessing.
 * `rescale`: x * (1/255); `caffe`: RGB->BGR then minus the ImageNet means; `tf`: x / 127.5 - 1;
 * `raw`: the byte values as floats (models that scale inside, like Keras EfficientNet).
 * @example preprocessInto(new Uint8Array([255, 0, 0]), 'caffe', out) // out = [-103.939, -116.779, 131.32]
 */
export function preprocessInto(
  rgb: Uint8Array,
  mode: Preprocessing,
  out: Float32Array,
  offset = 0,
): Float32Array {
  const n = rgb.length;
  if (n % 3 !== 0) throw new RangeError(`pixel buffer length ${n} is not a multiple of 3 (RGB)`);
  if (out.length < offset + n) throw new RangeError(`output has ${out.length - offset} slots, need ${n}`);
  switch (mode) {
    case 'rescale':
      for (let i = 0; i < n; i++) out[offset + i] = (rgb[i] as number) * RESCALE;
      break;
    case 'tf':
      for (let i = 0; i < n; i++) out[offset + i] = Math.fround((rgb[i] as number) / TF_SCALE) - 1;
      break;
    case 'raw':
      for (let i = 0; i < n; i++) out[offset + i] = rgb[i] as number;
      break;
    case 'caffe':
      for (let i = 0; i < n; i += 3) {
        const o = offset + i;
        out[o] = (rgb[i + 2] as number) - MEAN_B;
        out[o + 1] = (rgb[i + 1] as number) - MEAN_G;
        out[o + 2] = (rgb[i] as number) - MEAN_R;
      }
      break;
    default: {
      const never: never = mode;
      throw new RangeError(`unknown preprocessing ${String(never)}`);
    }
  }
  return out;
}

/** Preprocesses one RGB image into a new Float32Array. */
export function preprocess(rgb: Uint8Array, mode: Preprocessing): Float32Array {
  return preprocessInto(rgb, mode, new Float32Array(rgb.length));
}
