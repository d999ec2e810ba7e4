import {
  ApiError,
  type ErrorBody,
  errorBody,
  FEATURE_HEADERS,
  type FeatureSource,
  featureCacheKey,
  featuresJsonResponse,
  type HeadManifest,
  parseShapeHeader,
} from '@edgehead/contracts';
import type { GpuApi } from '@edgehead/contracts/api';
import { decodeFloat16, decodeFloat32, sha256Hex } from '@edgehead/head';
import { hc } from 'hono/client';

/** What the image path needs: the cache bucket and how to reach the gpu service. */
export interface ImageFeatureDeps {
  bucket: R2Bucket;
  gpuUrl: string;
  gpuToken: string | undefined;
}

/** Feature vector of one image and where it came from. */
export interface ImageFeatures {
  features: Float32Array;
  source: FeatureSource;
  imageSha256: string;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** One image of a classify-image request: its bytes and media type (and its part name in a batch). */
export interface RequestImage {
  bytes: Uint8Array;
  contentType: string;
  name?: string | undefined;
}

/** What the gpu service says when an image itself is the problem (its `details.reason`). */
const IMAGE_REASONS = new Set(['not_an_image', 'corrupt_image', 'image_too_large']);

/**
 * The error a failed `/v1/features` answer becomes. An image the gpu service refuses (not an image, corrupt,
 * too large) is the caller's: 400 or 413 naming `file[<index>]`, the image's index in the caller's request. Anything else (an unknown feature set or
 * backbone, weights that changed, the service failing) is this deployment's: 503, with the gpu's code and
 * status in the details for the operator, never blamed on the image.
 */
export function gpuRefusal(
  status: number,
  text: string,
  requestIndex: (i: number) => number = (i) => i,
): ApiError {
  let error: ErrorBody['error'] | undefined;
  try {
    error = errorBody.safeParse(JSON.parse(text)).data?.error;
  } catch {
    // not the gpu service's JSON error (a proxy's page): only the status is known
  }
  const reason = error?.details?.reason;
  if (typeof reason === 'string' && IMAGE_REASONS.has(reason)) {
    const index = requestIndex(typeof error?.details?.index === 'number' ? error.details.index : 0);
    const tooLarge = reason === 'image_too_large';
    return new ApiError(
      tooLarge ? 413 : 400,
      tooLarge ? 'payload_too_large' : 'bad_request',
      `the gpu service refused the image: ${(error?.message ?? reason).slice(0, 300)}`,
      { field: `file[${index}]`, reason },
    );
  }
  return new ApiError(
    503,
    'unavailable',
    `the gpu service cannot compute features for this head (${status}${error ? ` ${error.code}` : ''})` +
      `${error ? `: ${error.message.slice(0, 300)}` : ''}`,
    { status, ...(error ? { gpuCode: error.code } : {}) },
  );
}

/** Features of `images` from the gpu service: one image as the raw body, several as one multipart batch. */
async function fromGpu(
  deps: ImageFeatureDeps,
  manifest: HeadManifest,
  images: readonly RequestImage[],
  requestIndices: readonly number[],
): Promise<Float32Array[]> {
  const gpu = hc<GpuApi>(deps.gpuUrl);
  // a v2 head names its feature set (exactly its weights); a v1 head only the backbone shorthand
  const query =
    manifest.format === 'edgehead-head/2'
      ? { featureSet: manifest.featureSet.id }
      : { backbone: manifest.backbone };
  let body: Uint8Array | FormData;
  const headers: Record<string, string> = {
    accept: 'application/octet-stream, application/json;q=0.5',
    ...(deps.gpuToken ? { authorization: `Bearer ${deps.gpuToken}` } : {}),
  };
  const [only] = images;
  if (images.length === 1 && only) {
    body = only.bytes;
    headers['content-type'] = only.contentType;
  } else {
    body = new FormData();
    for (const [i, image] of images.entries())
      body.append('file', new Blob([image.bytes], { type: image.contentType }), image.name ?? `image-${i}`);
  }
  let res: Awaited<ReturnType<typeof gpu.v1.features.$post>>;
  try {
    res = await gpu.v1.features.$post({ query }, { headers, init: { body } });
  } catch (cause) {
    // the gpu service's address is internal: it goes to the log, not to the caller
    console.error('gpu service unreachable', new URL(deps.gpuUrl).origin, (cause as Error).message);
    throw new ApiError(503, 'unavailable', 'the gpu service is unreachable', undefined, { cause });
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw gpuRefusal(res.status, text, (i) => requestIndices[i] ?? i);
  }
  const expected = [images.length, ...manifest.featureShape];
  let shape: number[] | null;
  let values: Float32Array;
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    const parsed = featuresJsonResponse.safeParse(await res.json());
    if (!parsed.success) throw new ApiError(503, 'unavailable', 'gpu service sent a malformed features JSON');
    shape = parsed.data.shape;
    values = Float32Array.from(parsed.data.features.flat());
  } else {
    shape = parseShapeHeader(res.headers.get(FEATURE_HEADERS.shape));
    const bytes = new Uint8Array(await res.arrayBuffer());
    values =
      res.headers.get(FEATURE_HEADERS.dtype) === 'float16'
        ? decodeFloat16(bytes)
        : decodeFloat32(bytes).slice();
  }
  const count = expected.reduce((a, b) => a * b, 1);
  if (!shape || !sameShape(shape, expected) || values.length !== count) {
    throw new ApiError(
      503,
      'unavailable',
      `gpu service features of shape [${shape ?? '?'}] (${values.length} values), the head expects [${expected}]`,
      {
        expected,
        actual: shape,
      },
    );
  }
  const d = count / images.length;
  return images.map((_, i) => values.slice(i * d, (i + 1) * d));
}

/**
 * Features of images for a head: the R2 cache by (feature set, image sha256), else the gpu service (one request
 * for every image the cache lacks), then cached. Heads of both manifest versions are served (see
 * `featureCacheKey`). One result per image, in order.
 */
export async function imageFeatures(
  deps: ImageFeatureDeps,
  manifest: HeadManifest,
  images: readonly RequestImage[],
): Promise<ImageFeatures[]> {
  const d = manifest.featureShape.reduce((a, b) => a * b, 1);
  const found = await Promise.all(
    images.map(async (image) => {
      const imageSha256 = await sha256Hex(image.bytes);
      const cached = await deps.bucket.get(featureCacheKey(manifest, imageSha256));
      const values = cached ? new Float32Array(await cached.arrayBuffer()) : null;
      return { imageSha256, values: values?.length === d ? values : null };
    }),
  );
  const misses = found.flatMap((f, i) => (f.values === null ? [i] : []));
  const computed =
    misses.length > 0
      ? await fromGpu(
          deps,
          manifest,
          misses.map((i) => images[i] as RequestImage),
          misses,
        )
      : [];
  await Promise.all(
    misses.map((i, k) =>
      deps.bucket.put(
        featureCacheKey(manifest, (found[i] as (typeof found)[number]).imageSha256),
        computed[k] as Float32Array,
        {
          customMetadata: { shape: manifest.featureShape.join(','), dtype: 'float32' },
        },
      ),
    ),
  );
  return found.map(({ imageSha256, values }, i) => {
    const k = misses.indexOf(i);
    return values !== null
      ? { features: values, source: 'cache' as const, imageSha256 }
      : { features: computed[k] as Float32Array, source: 'gpu' as const, imageSha256 };
  });
}
