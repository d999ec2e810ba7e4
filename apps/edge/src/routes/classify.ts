import { ApiError, CLASSIFY_LIMITS, FEATURE_DTYPE_HEADER, featureDtype } from '@edgehead/contracts';
import { apiApp, edgeRoutes, IMAGE_TYPES } from '@edgehead/contracts/api';
import { toPredictions } from '@edgehead/head';
import { bodyLimit } from 'hono/body-limit';
import { apiKeyAuth } from '../auth.ts';
import { decodeBinaryFeatures, decodeJsonFeatures, type FeatureBatch } from '../features.ts';
import { getHead } from '../heads.ts';
import { imageFeatures, type RequestImage } from '../image-features.ts';
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

const isImageType = (type: string) => (IMAGE_TYPES as readonly string[]).includes(type);

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
    const batch = type === 'multipart/form-data';
    if (!batch && !isImageType(type)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `content-type ${JSON.stringify(type || '(none)')}, expected one of ${IMAGE_TYPES.join(', ')} or multipart/form-data`,
        { field: 'content-type' },
      );
    }
    const deps = { kv: c.env.REGISTRY, bucket: c.env.ARTIFACTS };
    const version = await resolveActive(deps, alias);
    const head = await getHead(c.env.ARTIFACTS, alias, version);
    let images: RequestImage[];
    if (batch) images = await imageParts(c.req.raw);
    else {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.byteLength === 0)
        throw new ApiError(400, 'bad_request', 'empty body: expected image bytes', { field: 'body' });
      images = [{ bytes, contentType: type }];
    }
    const found = await imageFeatures(
      { bucket: c.env.ARTIFACTS, gpuUrl: c.env.GPU_SERVICE_URL, gpuToken: c.env.GPU_SERVICE_TOKEN },
      head.manifest,
      images,
    );
    const d = head.model.inputSize;
    const features = new Float32Array(found.length * d);
    for (const [i, f] of found.entries()) features.set(f.features, i * d);
    const output = head.model.predict(features, found.length);
    const classified = found.map((f, i) => ({
      ...(images[i]?.name === undefined ? {} : { name: images[i]?.name }),
      imageSha256: f.imageSha256,
      source: f.source,
    }));
    const [single] = found;
    return c.json(
      {
        alias,
        version,
        predictions: toPredictions(head.manifest, output, found.length),
        images: classified,
        ...(batch || !single ? {} : { source: single.source, imageSha256: single.imageSha256 }),
      },
      200,
    );
  });

/** The image file parts of a multipart classify-image request, each checked (field `file[<i>]` on errors). */
async function imageParts(request: Request): Promise<RequestImage[]> {
  let form: FormData;
  try {
    form = await request.formData();
  } catch (cause) {
    throw new ApiError(
      400,
      'bad_request',
      'malformed multipart/form-data body',
      { field: 'body' },
      { cause },
    );
  }
  const files = [...form.values()].filter((v): v is File => typeof v !== 'string');
  if (files.length === 0)
    throw new ApiError(400, 'bad_request', 'no image file parts in the multipart body', { field: 'file' });
  if (files.length > CLASSIFY_LIMITS.maxImages) {
    throw new ApiError(
      413,
      'payload_too_large',
      `${files.length} images, at most ${CLASSIFY_LIMITS.maxImages} per request`,
      { field: 'file', max: CLASSIFY_LIMITS.maxImages },
    );
  }
  return Promise.all(
    files.map(async (file, i) => {
      const contentType = mediaType(file.type);
      if (!isImageType(contentType)) {
        throw new ApiError(
          415,
          'unsupported_media_type',
          `part ${i} (${JSON.stringify(file.name)}) is ${JSON.stringify(contentType || '(none)')}, expected one of ${IMAGE_TYPES.join(', ')}`,
          { field: `file[${i}]` },
        );
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      if (bytes.byteLength === 0)
        throw new ApiError(400, 'bad_request', `part ${i} (${JSON.stringify(file.name)}) is empty`, {
          field: `file[${i}]`,
        });
      return { bytes, contentType, name: file.name };
    }),
  );
}
