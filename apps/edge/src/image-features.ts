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

async function fromGpu(
  deps: ImageFeatureDeps,
  manifest: HeadManifest,
  image: Uint8Array,
  contentType: string,
): Promise<Float32Array> {
  const gpu = hc<GpuApi>(deps.gpuUrl);
  // a v2 head names its feature set (exactly its weights); a v1 head only the backbone shorthand
  const query =
    manifest.format === 'edgehead-head/2'
      ? { featureSet: manifest.featureSet.id }
      : { backbone: manifest.backbone };
  let res: Awaited<ReturnType<typeof gpu.v1.features.$post>>;
  try {
    res = await gpu.v1.features.$post(
      { query },
      {
        headers: {
          'content-type': contentType,
          accept: 'application/octet-stream, application/json;q=0.5',
          ...(deps.gpuToken ? { authorization: `Bearer ${deps.gpuToken}` } : {}),
        },
        init: { body: image },
      },
    );
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
  const expected = [1, ...manifest.featureShape];
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
  return values;
}

/**
 * Features of an image for a head: the R2 cache by (feature set, image sha256), else the gpu service, then
 * cached. Heads of both manifest versions are served (see `featureCacheKey`).
 */
export async function imageFeatures(
  deps: ImageFeatureDeps,
  manifest: HeadManifest,
  image: Uint8Array,
  contentType: string,
): Promise<ImageFeatures> {
  const imageSha256 = await sha256Hex(image);
  const key = featureCacheKey(manifest, imageSha256);
  const d = manifest.featureShape.reduce((a, b) => a * b, 1);
  const cached = await deps.bucket.get(key);
  if (cached) {
    const values = new Float32Array(await cached.arrayBuffer());
    if (values.length === d) return { features: values, source: 'cache', imageSha256 };
  }
  const features = await fromGpu(deps, manifest, image, contentType);
  await deps.bucket.put(key, features, {
    customMetadata: { shape: manifest.featureShape.join(','), dtype: 'float32' },
  });
  return { features, source: 'gpu', imageSha256 };
}
