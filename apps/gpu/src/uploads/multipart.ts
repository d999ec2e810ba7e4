import { ApiError, type UploadFields, uploadFields } from '@edgehead/contracts';
import type { Context } from 'hono';
import { tooLarge } from '../http/errors.ts';

/** A multipart request's batch fields and file parts, in order. */
export interface MultipartUpload {
  fields: UploadFields;
  files: { name: string; data: Uint8Array }[];
}

/** Parses a multipart upload: `split`/`label` fields, any number of file parts (413 above `maxFiles`). */
export async function readMultipart(c: Context, maxFiles: number): Promise<MultipartUpload> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('multipart/form-data')) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `expected multipart/form-data, got ${type || 'no content-type'}`,
    );
  }
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch (cause) {
    throw new ApiError(
      400,
      'bad_request',
      `malformed multipart body: ${(cause as Error).message}`,
      undefined,
      {
        cause,
      },
    );
  }
  const raw: Record<string, string> = {};
  const parts: File[] = [];
  for (const [key, value] of form.entries()) {
    if (typeof value === 'string') raw[key] = value;
    else parts.push(value);
  }
  if (parts.length > maxFiles) {
    throw tooLarge(
      `${parts.length} files in one request, the limit is ${maxFiles} (EDGEHEAD_GPU_MAX_FILES)`,
      {
        limit: 'maxFiles',
        max: maxFiles,
        received: parts.length,
      },
    );
  }
  if (parts.length === 0) throw new ApiError(400, 'bad_request', 'no file parts in the multipart body');
  const fields = uploadFields.parse({ split: raw.split || undefined, label: raw.label || undefined });
  const files = await Promise.all(
    parts.map(async (p) => ({ name: p.name || 'unnamed', data: new Uint8Array(await p.arrayBuffer()) })),
  );
  return { fields, files };
}
