import {
  ApiError,
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

/** Features of `images` from the gpu service: one image as the raw body, several as one multipart batch. */
async function fromGpu(
  deps: ImageFeatureDeps,
  manifest: HeadManifest,
  images: readonly RequestImage[],
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
    // the gpu service refusing the image (bad format, too large) is the caller's problem; anything else is ours
    if (res.status === 400 || res.status === 413 || res.status === 415 || res.status === 422) {
      throw new ApiError(
        res.status === 413 ? 413 : 400,
        res.status === 413 ? 'payload_too_large' : 'bad_request',
        `the gpu service refused the image (${res.status}): ${text.slice(0, 300)}`,
      );
    }
    throw new ApiError(503, 'unavailable', `gpu service answered ${res.status} for /v1/features`, {
      status: res.status,
    });
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
