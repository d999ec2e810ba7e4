import { ApiError, CLASSIFY_LIMITS, FEATURE_DTYPE_HEADER, featureDtype } from '@edgehead/contracts';
import { apiApp, edgeRoutes, IMAGE_TYPES } from '@edgehead/contracts/api';
import { toPredictions } from '@edgehead/head';
import { bodyLimit } from 'hono/body-limit';
import { apiKeyAuth } from '../auth.ts';
import { decodeBinaryFeatures, decodeJsonFeatures, type FeatureBatch } from '../features.ts';
import { getHead } from '../heads.ts';
import { imageFeatures } from '../image-features.ts';
import { keyRateLimit } from '../rate-limit.ts';
import { resolveActive } from '../registry.ts';
import type { AppEnv } from '../types.ts';

const limit = bodyLimit({
  maxSize: CLASSIFY_LIMITS.maxBodyBytes,
  onError: () => {
    throw new ApiError(413, 'payload_too_large', `body larger than ${CLASSIFY_LIMITS.maxBodyBytes} bytes`, {
      max: CLASSIFY_LIMITS.maxBodyBytes,
    });
  },
});

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** `POST /v1/models/:alias/classify` and `/classify-image`, behind an API key and its rate limit. */
const classify = apiApp<AppEnv>();
classify.use('/v1/models/*', apiKeyAuth(), keyRateLimit());

export const classifyRoutes = classify
  .openapi({ ...edgeRoutes.classify, middleware: [limit] }, async (c) => {
    const { alias } = c.req.valid('param');
    const type = mediaType(c.req.header('content-type'));
    if (type !== 'application/json' && type !== 'application/octet-stream') {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `content-type ${JSON.stringify(type || '(none)')}, expected application/json or application/octet-stream`,
        {
          field: 'content-type',
        },
      );
    }
    const deps = { kv: c.env.REGISTRY, bucket: c.env.ARTIFACTS };
    const version = await resolveActive(deps, alias);
    const head = await getHead(c.env.ARTIFACTS, alias, version);
    const d = head.model.inputSize;
    let batch: FeatureBatch;
    if (type === 'application/json') batch = decodeJsonFeatures(await c.req.text(), d);
    else {
      const headerDtype = c.req.header(FEATURE_DTYPE_HEADER);
      const dtype =
        c.req.valid('query').dtype ?? (headerDtype ? featureDtype.safeParse(headerDtype).data : 'float32');
      if (!dtype)
        throw new ApiError(
          400,
          'validation_failed',
          `${FEATURE_DTYPE_HEADER} ${JSON.stringify(headerDtype)}, expected float32 or float16`,
          { field: FEATURE_DTYPE_HEADER },
        );
      batch = decodeBinaryFeatures(new Uint8Array(await c.req.arrayBuffer()), d, dtype);
    }
    const output = head.model.predict(batch.data, batch.rows);
    return c.json({ alias, version, predictions: toPredictions(head.manifest, output, batch.rows) }, 200);
  })
  .openapi({ ...edgeRoutes.classifyImage, middleware: [limit] }, async (c) => {
    const { alias } = c.req.valid('param');
    const type = mediaType(c.req.header('content-type'));
    if (!(IMAGE_TYPES as readonly string[]).includes(type)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `content-type ${JSON.stringify(type || '(none)')}, expected one of ${IMAGE_TYPES.join(', ')}`,
        {
          field: 'content-type',
        },
      );
    }
    const deps = { kv: c.env.REGISTRY, bucket: c.env.ARTIFACTS };
    const version = await resolveActive(deps, alias);
    const head = await getHead(c.env.ARTIFACTS, alias, version);
    const image = new Uint8Array(await c.req.arrayBuffer());
    if (image.byteLength === 0)
      throw new ApiError(400, 'bad_request', 'empty body: expected image bytes', { field: 'body' });
    const found = await imageFeatures(
      { bucket: c.env.ARTIFACTS, gpuUrl: c.env.GPU_SERVICE_URL, gpuToken: c.env.GPU_SERVICE_TOKEN },
      head.manifest,
      image,
      type,
    );
    const output = head.model.predict(found.features, 1);
    return c.json(
      {
        alias,
        version,
        predictions: toPredictions(head.manifest, output, 1),
        source: found.source,
        imageSha256: found.imageSha256,
      },
      200,
    );
  });
