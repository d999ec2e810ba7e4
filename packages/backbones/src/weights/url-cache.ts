import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BackboneError } from '../errors.ts';

/** How a downloaded file is checked: sha256 (64 hex) or, for Keras' published files, md5 (32 hex). */
export interface Checksum {
  sha256?: string | undefined;
  md5?: string | undefined;
}

/** Options of `downloadToCache`. */
export interface DownloadOptions extends Checksum {
  /** Folder holding cached downloads (created when missing). */
  cacheDir: string;
  /** File name to store under; default: the URL's last path segment. */
  fileName?: string;
  /** Sub-folder to group files of one model (tfjs shards next to their model.json). */
  group?: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Parses a weights URL; only https, or http to a loopback host (local test servers), is accepted. */
export function parseWeightsUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new BackboneError('invalid_config', `weights URL ${raw} is not a valid URL`, { cause });
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  throw new BackboneError(
    'insecure_url',
    `weights URL ${raw} uses ${url.protocol}//${url.hostname}: expected https (http only for localhost)`,
  );
}

/** True when the string is an http(s) URL rather than a path. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function hashFile(file: string, algorithm: 'sha256' | 'md5'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

function expected(check: Checksum): { algorithm: 'sha256' | 'md5'; hex: string } | undefined {
  if (check.sha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(check.sha256)) {
      throw new BackboneError('invalid_config', `sha256 ${check.sha256} is not 64 lowercase hex characters`);
    }
    return { algorithm: 'sha256', hex: check.sha256 };
  }
  if (check.md5 !== undefined) {
    if (!/^[0-9a-f]{32}$/.test(check.md5)) {
      throw new BackboneError('invalid_config', `md5 ${check.md5} is not 32 lowercase hex characters`);
    }
    return { algorithm: 'md5', hex: check.md5 };
  }
  return undefined;
}

/** Where `downloadToCache` stores a URL: keyed by the checksum when given, else by a hash of the URL. */
export function cachePathFor(rawUrl: string, options: DownloadOptions): string {
  const url = parseWeightsUrl(rawUrl);
  const check = expected(options);
  const key = options.group ?? check?.hex ?? createHash('sha256').update(url.href).digest('hex').slice(0, 32);
  const name = options.fileName ?? decodeURIComponent(url.pathname.split('/').pop() || 'download');
  if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') {
    throw new BackboneError('invalid_config', `file name ${name} from ${rawUrl} is not a plain file name`);
  }
  return path.join(options.cacheDir, key, name);
}

/**
 * Downloads `url` once into the cache and returns the local path. A cached file is reused when it
 * still matches its checksum; a fresh download is hashed while streaming and only renamed into place
 * when the checksum matches, so a failed or tampered download never leaves a file behind.
 * @example const h5 = await downloadToCache(VGG16_KERAS_WEIGHTS.url, { cacheDir, md5: VGG16_KERAS_WEIGHTS.md5 });
 */
export async function downloadToCache(rawUrl: string, options: DownloadOptions): Promise<string> {
  const url = parseWeightsUrl(rawUrl);
  const check = expected(options);
  const target = cachePathFor(rawUrl, options);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isFile()) {
    if (check === undefined || (await hashFile(target, check.algorithm)) === check.hex) return target;
    await rm(target, { force: true });
  }
  await mkdir(path.dirname(target), { recursive: true });
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (cause) {
    throw new BackboneError('download_failed', `downloading ${url.href} failed: ${String(cause)}`, { cause });
  }
  if (!res.ok || res.body === null) {
    throw new BackboneError(
      'download_failed',
      `downloading ${url.href} answered HTTP ${res.status}, expected 200`,
      {
        details: { status: res.status },
      },
    );
  }
  const part = `${target}.${randomUUID()}.part`;
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sha.update(chunk);
      md5.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(part));
    const declared = res.headers.get('content-length');
    if (declared !== null && Number(declared) !== bytes) {
      throw new BackboneError(
        'download_failed',
        `downloading ${url.href} stopped at ${bytes} of ${declared} bytes`,
      );
    }
    if (check !== undefined) {
      const actual = (check.algorithm === 'sha256' ? sha : md5).digest('hex');
      if (actual !== check.hex) {
        throw new BackboneError(
          'checksum_mismatch',
          `${url.href}: ${check.algorithm} ${actual}, expected ${check.hex} (${bytes} bytes downloaded)`,
          { details: { algorithm: check.algorithm, expected: check.hex, actual } },
        );
      }
    }
    await rename(part, target);
    return target;
  } catch (err) {
    await rm(part, { force: true });
    if (err instanceof BackboneError) throw err;
    throw new BackboneError('download_failed', `downloading ${url.href} failed: ${String(err)}`, {
      cause: err,
    });
  }
}
