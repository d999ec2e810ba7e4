import { augmentImage, decodeImage } from '@edgehead/backbones';
import { ApiError, type AugmentationSamplesQuery, augmentationConfig } from '@edgehead/contracts';
import { getExtraction, listImages, NotFoundError } from '@edgehead/db';
import sharp from 'sharp';
import type { AppDeps } from '../deps.ts';
import { imageBytes } from './worker.ts';

/** Pixels between two cells of the grid (white). */
const GAP = 2;

/** A rendered grid: the encoded picture and the image ids of its rows. */
export interface AugmentationSamples {
  bytes: Uint8Array;
  contentType: 'image/png' | 'image/jpeg';
  imageIds: string[];
}

/**
 * Renders the augmented copies of an augmented extraction's first training images (by id), exactly as the
 * extraction made them (`augmentImage` with the feature set's params and each image's content hash): one row
 * per image, the decoded original then copies 0..n-1, at the input size times `scale` (nearest, so the
 * pixels the backbone saw stay visible). ApiError 404 for an unknown extraction, 400 for a plain one.
 */
export async function renderAugmentationSamples(
  deps: AppDeps,
  extractionId: string,
  query: AugmentationSamplesQuery,
): Promise<AugmentationSamples> {
  const found = await getExtraction(deps.db, extractionId).catch((cause: unknown) => {
    if (!(cause instanceof NotFoundError)) throw cause;
    throw new ApiError(404, 'not_found', `extraction ${extractionId} not found`, { field: 'id' }, { cause });
  });
  const { extraction, featureSet } = found;
  const provenance = featureSet.provenance;
  if (provenance?.kind !== 'augmented' || featureSet.inputSize === null) {
    throw new ApiError(
      400,
      'validation_failed',
      `extraction ${extractionId} is of a plain feature set: samples exist for augmented ones (extract with augment)`,
      { field: 'id' },
    );
  }
  const params = augmentationConfig.parse(provenance.params);
  // tf.image.transform runs on this thread's tfjs backend (a replica may not have extracted anything yet)
  await deps.extractors.backend();
  const size = featureSet.inputSize;
  const [h, w] = size;
  const copies = Math.min(query.copies, params.copies);
  const train = (await listImages(deps.db, extraction.datasetId, { split: 'train', limit: 200 }))
    .filter((i) => i.status === 'ready')
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, query.images);
  if (train.length === 0) {
    throw new ApiError(404, 'not_found', `the dataset of extraction ${extractionId} has no training images`, {
      field: 'id',
    });
  }
  const cols = copies + 1;
  const width = cols * w + (cols - 1) * GAP;
  const height = train.length * h + (train.length - 1) * GAP;
  const canvas = new Uint8Array(width * height * 3).fill(255);
  for (const [row, image] of train.entries()) {
    const original = (await decodeImage(await imageBytes(deps.db, image), size)).pixels;
    const pictures = [original, ...augmentImage(original, size, { ...params, copies }, image.sha256)];
    for (const [col, pixels] of pictures.entries()) {
      const x0 = col * (w + GAP);
      const y0 = row * (h + GAP);
      for (let y = 0; y < h; y++) {
        canvas.set(pixels.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + x0) * 3);
      }
    }
  }
  let picture = sharp(canvas, { raw: { width, height, channels: 3 } });
  if (query.scale > 1) {
    picture = sharp(await picture.png().toBuffer()).resize(width * query.scale, height * query.scale, {
      kernel: 'nearest',
    });
  }
  const encoded = query.format === 'jpeg' ? picture.jpeg({ quality: 90 }) : picture.png();
  return {
    bytes: new Uint8Array(await encoded.toBuffer()),
    contentType: query.format === 'jpeg' ? 'image/jpeg' : 'image/png',
    imageIds: train.map((i) => i.id),
  };
}
