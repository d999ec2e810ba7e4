import type { AugmentationConfig, FillMode } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { BackboneError } from './errors.ts';

/** One copy's transform, in Keras `ImageDataGenerator.get_random_transform` terms. */
export interface AugmentationParameters {
  /** Rotation in degrees (Keras `theta`). */
  rotation: number;
  /** Horizontal and vertical shift in pixels. */
  shiftX: number;
  shiftY: number;
  /** Shear angle in degrees. */
  shear: number;
  /** Zoom factors (above 1 shows less of the image, as in Keras). */
  zoomX: number;
  zoomY: number;
  /** Mirrored left-right after the affine transform (Keras `flip_horizontal`). */
  flip: boolean;
}

/** A 3x3 matrix, row-major: [m00, m01, m02, m10, m11, m12, m20, m21, m22]. */
export type Matrix3 = readonly [number, number, number, number, number, number, number, number, number];

// Each parameter has its own draw, so that changing one range never changes another parameter's values.
const DRAW = { rotation: 0, shiftX: 1, shiftY: 2, shear: 3, zoomX: 4, zoomY: 5, flip: 6 } as const;

/** FNV-1a over the UTF-16 units of `text`, then the murmur3 finaliser: a well-mixed 32-bit hash. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The transform of copy `copy` of the image identified by `imageKey` (e.g. its content sha256), drawn with
 * Keras's meanings and ranges: rotation uniform in [-r, r] degrees, shifts uniform in [-s, s] x the size,
 * shear uniform in [-s, s] degrees, zoom x and y independently uniform in [1 - z, 1 + z], flip with
 * probability 1/2. The draws are a hash of (seed, image, copy, parameter): the same inputs always give
 * the same transform, in any order and on any machine.
 * @example augmentationParameters(config, { key: sha256, width: 150, height: 150 }, 0)
 */
export function augmentationParameters(
  config: Pick<
    AugmentationConfig,
    'seed' | 'rotation' | 'widthShift' | 'heightShift' | 'shear' | 'zoom' | 'horizontalFlip'
  >,
  image: { key: string; width: number; height: number },
  copy: number,
): AugmentationParameters {
  if (!Number.isInteger(copy) || copy < 0) {
    throw new BackboneError('invalid_input', `copy: ${copy}, expected an integer >= 0`);
  }
  const uniform = (draw: number) =>
    hash32(`${config.seed}\u0000${image.key}\u0000${copy}\u0000${draw}`) / 2 ** 32;
  const symmetric = (draw: number, range: number) => (range === 0 ? 0 : (2 * uniform(draw) - 1) * range);
  const zoom = (draw: number) => (config.zoom === 0 ? 1 : 1 + symmetric(draw, config.zoom));
  return {
    rotation: symmetric(DRAW.rotation, config.rotation),
    shiftX: symmetric(DRAW.shiftX, config.widthShift) * image.width,
    shiftY: symmetric(DRAW.shiftY, config.heightShift) * image.height,
    shear: symmetric(DRAW.shear, config.shear),
    zoomX: zoom(DRAW.zoomX),
    zoomY: zoom(DRAW.zoomY),
    flip: config.horizontalFlip && uniform(DRAW.flip) < 0.5,
  };
}

function multiply(a: Matrix3, b: Matrix3): Matrix3 {
  const m = (r: number, c: number) =>
    (a[r * 3] as number) * (b[c] as number) +
    (a[r * 3 + 1] as number) * (b[3 + c] as number) +
    (a[r * 3 + 2] as number) * (b[6 + c] as number);
  return [m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), m(2, 0), m(2, 1), m(2, 2)];
}

const translate = (x: number, y: number): Matrix3 => [1, 0, x, 0, 1, y, 0, 0, 1];

/**
 * The matrix Keras's `apply_affine_transform` builds, in (x, y) pixel coordinates (x right, y down, pixel
 * centres at integers): it maps an output pixel to the input point it samples. Rotation, shift, shear and
 * zoom compose in Keras's order about the image centre ((w - 1) / 2, (h - 1) / 2), and the flip that Keras
 * applies afterwards to the transformed image is folded in as a mirror of the output coordinates.
 */
export function affineMatrix(p: AugmentationParameters, width: number, height: number): Matrix3 {
  const theta = (p.rotation * Math.PI) / 180;
  const shear = (p.shear * Math.PI) / 180;
  const rotate: Matrix3 = [
    Math.cos(theta),
    -Math.sin(theta),
    0,
    Math.sin(theta),
    Math.cos(theta),
    0,
    0,
    0,
    1,
  ];
  const shearing: Matrix3 = [1, -Math.sin(shear), 0, 0, Math.cos(shear), 0, 0, 0, 1];
  const zoom: Matrix3 = [p.zoomX, 0, 0, 0, p.zoomY, 0, 0, 0, 1];
  const [cx, cy] = [(width - 1) / 2, (height - 1) / 2];
  let m = multiply(multiply(multiply(rotate, translate(p.shiftX, p.shiftY)), shearing), zoom);
  m = multiply(multiply(translate(cx, cy), m), translate(-cx, -cy));
  return p.flip ? multiply(m, [-1, 0, width - 1, 0, 1, 0, 0, 0, 1]) : m;
}

/**
 * Applies `matrix` (output pixel -> input point) to one HxWx3 RGB image with tfjs `tf.image.transform`,
 * bilinear as Keras's default `interpolation_order=1`, points outside filled by `fillMode` (TensorFlow's
 * definitions; `constant` fills 0 as Keras's cval). Returns RGB bytes (rounded; Keras keeps the floats).
 */
export function transformImage(
  pixels: Uint8Array,
  [height, width]: readonly [number, number],
  matrix: Matrix3,
  fillMode: FillMode,
): Uint8Array {
  if (pixels.length !== height * width * 3) {
    throw new BackboneError(
      'invalid_input',
      `image: ${pixels.length} bytes, expected ${height}x${width}x3 = ${height * width * 3}`,
    );
  }
  const out = tf.tidy(() => {
    const image = tf.tensor4d(Float32Array.from(pixels), [1, height, width, 3]);
    const transform = tf.tensor2d([matrix.slice(0, 6).concat([0, 0])], [1, 8]);
    // One image per call: tfjs-backend-cpu 4.22's Transform returns after the first image of a batch.
    return tf.image.transform(image, transform, 'bilinear', fillMode, 0).round().clipByValue(0, 255);
  });
  try {
    return Uint8Array.from(out.dataSync());
  } finally {
    out.dispose();
  }
}

/**
 * `config.copies` augmented copies of one HxWx3 RGB image (copy i uses `augmentationParameters(..., i)`),
 * e.g. the training images of an augmented feature set, ready for `Backbone.extract`.
 * @example const copies = augmentImage(img.pixels, [150, 150], config, sha256);
 */
export function augmentImage(
  pixels: Uint8Array,
  size: readonly [number, number],
  config: AugmentationConfig,
  imageKey: string,
): Uint8Array[] {
  const [height, width] = size;
  return Array.from({ length: config.copies }, (_, copy) => {
    const params = augmentationParameters(config, { key: imageKey, width, height }, copy);
    return transformImage(pixels, size, affineMatrix(params, width, height), config.fillMode);
  });
}

/** Which copies to make of a list of images: the augmentation, and one key (e.g. content hash) per image. */
export interface AugmentRequest {
  config: AugmentationConfig;
  keys: readonly string[];
}

/** Refuses an `AugmentRequest` without exactly one key per image. */
export function checkAugmentKeys(images: number, augment: AugmentRequest | undefined): void {
  if (augment !== undefined && augment.keys.length !== images) {
    throw new BackboneError(
      'invalid_input',
      `augment.keys: ${augment.keys.length} keys for ${images} images, expected one per image`,
    );
  }
}

/**
 * The pictures a forward pass takes: the images themselves, or with `augment` each image's
 * `augment.config.copies` copies (copy c of image i at i * copies + c, `augmentImage` keyed by `keys[i]`).
 */
export function augmentedInputs(
  images: readonly Uint8Array[],
  size: readonly [number, number],
  augment: AugmentRequest | undefined,
): readonly Uint8Array[] {
  if (augment === undefined) return images;
  checkAugmentKeys(images.length, augment);
  return images.flatMap((pixels, i) => augmentImage(pixels, size, augment.config, augment.keys[i] as string));
}
