import sharp, { type Metadata } from 'sharp';
import { BackboneError } from './errors.ts';
import { resizeNearestPil } from './pil-nearest.ts';

/** A decoded image at the backbone's input size. */
export interface DecodedImage {
  /** RGB bytes, row-major HxWx3. */
  pixels: Uint8Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
  /** Container format sharp detected (`jpeg`, `png`, `webp`, ...). */
  format: string;
}

/** Options of `decodeImage`. */
export interface DecodeOptions {
  /** Largest accepted width x height of the original (default 40 megapixels). */
  maxPixels?: number;
  /**
   * Resampling (default `nearest`): `nearest` picks the source pixel Pillow's `NEAREST` picks, as Keras
   * `load_img` / `flow_from_directory` resize (the recipe); `linear`, `cubic` and `lanczos3` are sharp's.
   */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
}

/** Default cap on original image size: 40 megapixels. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * Decodes any image sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF), honours EXIF orientation, drops
 * alpha, converts to sRGB and resizes to exactly `size` = [height, width] ignoring aspect ratio (as
 * Keras does). Throws BackboneError `not_an_image`, `corrupt_image` or `image_too_large`.
 * @example const { pixels } = await decodeImage(await readFile('cat.jpg'), [150, 150]);
 */
export async function decodeImage(
  input: Uint8Array,
  size: readonly [number, number],
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const [height, width] = size;
  let meta: Metadata;
  try {
    // Only the header is read here; our own maxPixels check below refuses huge images by their size.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new BackboneError(
      'not_an_image',
      `input of ${input.length} bytes is not an image: expected JPEG, PNG, WebP, GIF, TIFF or AVIF`,
      { cause },
    );
  }
  const ow = meta.autoOrient?.width ?? meta.width;
  const oh = meta.autoOrient?.height ?? meta.height;
  if (ow === undefined || oh === undefined) {
    throw new BackboneError(
      'corrupt_image',
      `${meta.format ?? 'image'} of ${input.length} bytes has no dimensions`,
    );
  }
  if (ow * oh > maxPixels) {
    throw new BackboneError(
      'image_too_large',
      `${meta.format} image is ${ow}x${oh} = ${ow * oh} pixels, more than the limit of ${maxPixels}`,
      { details: { width: ow, height: oh, maxPixels } },
    );
  }
  const kernel = options.kernel ?? 'nearest';
  try {
    const decoder = sharp(input, { failOn: 'error', limitInputPixels: maxPixels })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb');
    // Nearest decodes at full size and picks pixels itself: sharp's own nearest (and its JPEG
    // shrink-on-load) lands on other source pixels than Pillow's.
    if (kernel !== 'nearest') decoder.resize(width, height, { fit: 'fill', kernel });
    const { data, info } = await decoder.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    const decoded = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const pixels =
      kernel === 'nearest'
        ? resizeNearestPil(decoded, { width: info.width, height: info.height, channels: 3 }, width, height)
        : decoded;
    if (pixels.length !== width * height * 3) {
      throw new Error(`resized to ${pixels.length} bytes, expected ${width}x${height}x3`);
    }
    return {
      pixels,
      width,
      height,
      originalWidth: ow,
      originalHeight: oh,
      format: meta.format ?? 'unknown',
    };
  } catch (cause) {
    throw new BackboneError(
      'corrupt_image',
      `${meta.format} image (${ow}x${oh}, ${input.length} bytes) cannot be decoded: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
