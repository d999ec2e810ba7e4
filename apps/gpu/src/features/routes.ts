import { createHash } from 'node:crypto';
import { decodeImage, type FeatureExtractor, isBackboneError } from '@edgehead/backbones';
import { ApiError, FEATURE_HEADERS, type FeatureSetRecord } from '@edgehead/contracts';
import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import { ensureFeatureSet, getFeatureSet, NotFoundError, storedFeaturesByContent } from '@edgehead/db';
import type { Context } from 'hono';
import type { AppDeps } from '../deps.ts';
import { limitBody } from '../http/limits.ts';
import { readMultipart } from '../uploads/multipart.ts';

/** Images of a `/v1/features` request: the raw body, or every file part of a multipart batch in order. */
async function images(c: Context, maxFiles: number): Promise<Uint8Array[]> {
  const type = c.req.header('content-type') ?? '';
  if (type.startsWith('multipart/form-data'))
    return (await readMultipart(c, maxFiles)).files.map((f) => f.data);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.length === 0) throw new ApiError(400, 'bad_request', 'empty body: send the image bytes');
  return [body];
}

/**
 * The feature set of a `/v1/features` request. By id: the record (its extractor is loaded only for images
 * that have no stored vector). By backbone: the configured weights, loaded (that is what identifies the
 * feature set), whose feature set is recorded on first use.
 */
async function featureSetFor(
  deps: AppDeps,
  query: { backbone?: string | undefined; featureSet?: string | undefined },
): Promise<{ featureSet: FeatureSetRecord; extractor?: FeatureExtractor }> {
  if (query.featureSet === undefined) {
    const extractor = await deps.extractors.load(
      deps.extractors.resolve({ backbone: query.backbone }).config,
    );
    return { extractor, featureSet: await ensureFeatureSet(deps.db, extractor.info.featureSet) };
  }
  const featureSet = await getFeatureSet(deps.db, query.featureSet).catch((err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
    throw new ApiError(404, 'not_found', `feature set ${query.featureSet} not found`, {
      field: 'featureSet',
    });
  });
  if (featureSet.provenance?.kind === 'augmented') {
    // its vectors are of augmented copies of training images; an image's own features are its base's
    throw new ApiError(
      400,
      'bad_request',
      `feature set ${featureSet.id} is augmented (copies of training images): ask for its base, ?featureSet=${featureSet.provenance.baseFeatureSetId}`,
      { field: 'featureSet', baseFeatureSetId: featureSet.provenance.baseFeatureSetId },
    );
  }
  if (featureSet.weights.sha256 === null) {
    throw new ApiError(
      400,
      'bad_request',
      `feature set ${featureSet.id} was carried over without a weights record (legacy): ask by ?backbone= instead`,
      { field: 'featureSet' },
    );
  }
  return { featureSet };
}

/**
 * A recorded feature set's extractor: exactly the recorded weights, loaded from the recorded source and
 * checked against the recorded sha256 (409 when the bytes there are other weights now).
 */
async function extractorOf(deps: AppDeps, featureSet: FeatureSetRecord): Promise<FeatureExtractor> {
  try {
    return await deps.extractors.forFeatureSet(featureSet);
  } catch (err) {
    if (!isBackboneError(err, 'checksum_mismatch')) throw err;
    throw new ApiError(409, 'conflict', err.message, { ...err.details, field: 'featureSet' }, { cause: err });
  }
}

/** The decoded pixels of one request image, or the HTTP error that names it. */
async function decodeRequestImage(deps: AppDeps, extractor: FeatureExtractor, image: Uint8Array, i: number) {
  try {
    return (await decodeImage(image, extractor.info.inputSize, { maxPixels: deps.env.limits.maxPixels }))
      .pixels;
  } catch (err) {
    if (!isBackboneError(err)) throw err;
    const [status, code] =
      err.code === 'not_an_image'
        ? ([415, 'unsupported_media_type'] as const)
        : err.code === 'image_too_large'
          ? ([413, 'payload_too_large'] as const)
          : ([400, 'bad_request'] as const);
    throw new ApiError(status, code, `image ${i}: ${err.message}`, { index: i, reason: err.code });
  }
}

/**
 * Frozen-backbone features on demand (the edge's image path): binary float32 or JSON, per the contract.
 * An image whose bytes some dataset already holds with a vector of this feature set gets that stored vector
 * (the same bytes and feature set give the same vector); only the others run through the backbone.
 */
export async function computeFeatures(
  deps: AppDeps,
  input: { backbone?: string | undefined; featureSet?: string | undefined; images: Uint8Array[] },
) {
  const { featureSet, extractor: loaded } = await featureSetFor(deps, input);
  const hashes = input.images.map((image) => createHash('sha256').update(image).digest('hex'));
  const stored = await storedFeaturesByContent(deps.db, featureSet.id, hashes);
  const missing = input.images.flatMap((image, i) => (stored.has(hashes[i] as string) ? [] : [{ image, i }]));
  const vectors = hashes.map((h) => stored.get(h) as Float32Array);
  if (missing.length > 0) {
    const extractor = loaded ?? (await extractorOf(deps, featureSet));
    const pixels: Uint8Array[] = [];
    for (const { image, i } of missing) pixels.push(await decodeRequestImage(deps, extractor, image, i));
    const computed = await extractor.extract(pixels);
    for (const [k, { i }] of missing.entries()) vectors[i] = computed[k] as Float32Array;
  }
  return {
    backbone: featureSet.backbone,
    featureSet: featureSet.id,
    shape: [vectors.length, ...featureSet.featureShape],
    vectors,
    stored: input.images.length - missing.length,
  };
}

function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const binary = accept.indexOf('application/octet-stream');
  const json = accept.indexOf('application/json');
  return json >= 0 && (binary < 0 || json < binary);
}

/** `POST /v1/features?featureSet=<id>` or `?backbone=<name or shorthand>`. */
export function featureRoutes(deps: AppDeps) {
  return apiApp().openapi(
    { ...gpuRoutes.features, middleware: [limitBody(deps.env.limits.maxBodyBytes)] },
    async (c) => {
      const out = await computeFeatures(deps, {
        ...c.req.valid('query'),
        images: await images(c, deps.env.limits.maxFiles),
      });
      if (wantsJson(c.req.header('accept'))) {
        return c.json(
          {
            backbone: out.backbone,
            featureSet: out.featureSet,
            shape: out.shape,
            dtype: 'float32' as const,
            features: out.vectors.map((v) => Array.from(v)),
            stored: out.stored,
          },
          200,
        );
      }
      const length = out.vectors.reduce((n, v) => n + v.length, 0);
      const bytes = new Uint8Array(length * 4);
      const view = new DataView(bytes.buffer);
      let at = 0;
      for (const v of out.vectors) {
        for (let i = 0; i < v.length; i++, at += 4) view.setFloat32(at, v[i] as number, true);
      }
      return c.body(bytes, 200, {
        'content-type': 'application/octet-stream',
        [FEATURE_HEADERS.shape]: out.shape.join(','),
        [FEATURE_HEADERS.dtype]: 'float32',
        [FEATURE_HEADERS.backbone]: out.backbone,
        [FEATURE_HEADERS.featureSet]: out.featureSet,
        [FEATURE_HEADERS.stored]: String(out.stored),
      });
    },
  );
}
