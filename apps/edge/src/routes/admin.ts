import { ApiError, PUBLISH_PARTS } from '@edgehead/contracts';
import { apiApp, edgeRoutes } from '@edgehead/contracts/api';
import type { HeadArtifactFiles } from '@edgehead/head';
import { bodyLimit } from 'hono/body-limit';
import { adminOnly, callerAuth } from '../auth.ts';
import { createApiKey, deleteApiKey } from '../keys.ts';
import {
  activateVersion,
  listModels,
  listVersions,
  publishVersion,
  registryOf,
  rollback,
} from '../registry.ts';
import { createSignInLink } from '../sign-in-links.ts';
import type { AppEnv } from '../types.ts';

/** Largest accepted artifact upload. */
const MAX_PUBLISH_BYTES = 100 * 1024 * 1024;

async function readParts(req: Request): Promise<HeadArtifactFiles> {
  if (!(req.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `publish expects multipart/form-data with parts ${PUBLISH_PARTS.join(', ')}`,
      { field: 'content-type' },
    );
  }
  let form: FormData;
  try {
    form = await req.formData();
  } catch (cause) {
    throw new ApiError(
      400,
      'bad_request',
      `malformed multipart body: ${(cause as Error).message}`,
      { field: 'body' },
      { cause },
    );
  }
  const files: Partial<HeadArtifactFiles> = {};
  const missing: string[] = [];
  for (const name of PUBLISH_PARTS) {
    const part = form.get(name) as File | string | null;
    if (part === null) missing.push(name);
    else
      files[name] =
        typeof part === 'string' ? new TextEncoder().encode(part) : new Uint8Array(await part.arrayBuffer());
  }
  if (missing.length > 0)
    throw new ApiError(400, 'validation_failed', `publish is missing part(s) ${missing.join(', ')}`, {
      missing,
    });
  return files as HeadArtifactFiles;
}

const limited = bodyLimit({
  maxSize: MAX_PUBLISH_BYTES,
  onError: () => {
    throw new ApiError(413, 'payload_too_large', `artifact upload larger than ${MAX_PUBLISH_BYTES} bytes`, {
      max: MAX_PUBLISH_BYTES,
    });
  },
});

/**
 * `/admin/*`: the model registry, API keys and sign-in links, behind the admin token; a dashboard session
 * may list, activate and roll back (with its CSRF token), nothing else. Registry writes go through the
 * alias's `RegistryWriter`, which also mirrors every switch into Postgres' `deployments` later (an alarm).
 */
const admin = apiApp<AppEnv>();
admin.use('/admin/*', callerAuth({ what: 'admin route' }));

export const adminRoutes = admin
  .openapi({ ...edgeRoutes.publishVersion, middleware: [adminOnly(), limited] }, async (c) => {
    const { alias, version } = c.req.valid('param');
    const files = await readParts(c.req.raw);
    const { manifest, active } = await publishVersion(registryOf(c.env), {
      alias,
      version,
      files,
      activate: c.req.valid('query').activate === 'true',
    });
    return c.json({ alias, version, active, manifest }, 201);
  })
  .openapi(edgeRoutes.listModels, async (c) => c.json(await listModels(registryOf(c.env)), 200))
  .openapi(edgeRoutes.listVersions, async (c) =>
    c.json(await listVersions(registryOf(c.env), c.req.valid('param').alias), 200),
  )
  .openapi(edgeRoutes.activate, async (c) =>
    c.json(
      await activateVersion(registryOf(c.env), c.req.valid('param').alias, c.req.valid('json').version),
      200,
    ),
  )
  .openapi(edgeRoutes.rollback, async (c) =>
    c.json(await rollback(registryOf(c.env), c.req.valid('param').alias), 200),
  )
  .openapi({ ...edgeRoutes.createKey, middleware: [adminOnly()] }, async (c) =>
    c.json(await createApiKey(c.env.REGISTRY, c.req.valid('json').name ?? null), 201),
  )
  .openapi({ ...edgeRoutes.deleteKey, middleware: [adminOnly()] }, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deleteApiKey(c.env.REGISTRY, id)))
      throw new ApiError(404, 'not_found', `no API key with id ${id}`, { field: 'id', id });
    return c.json({ id, deleted: true as const }, 200);
  })
  .openapi({ ...edgeRoutes.createSignInLink, middleware: [adminOnly()] }, async (c) =>
    c.json(await createSignInLink(c.env.SIGN_IN_LINKS, new URL(c.req.url).origin), 201),
  );
