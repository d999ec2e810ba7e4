import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { RejectReason } from '@edgehead/contracts';
import { ApiError } from '@edgehead/contracts';
import { Inflate } from 'fflate';
import tar from 'tar-stream';
import { tooLarge } from '../http/errors.ts';

/** One archive member: its bytes, or why it was refused. */
export type ArchiveEntry =
  | { name: string; data: Uint8Array }
  | { name: string; rejected: { reason: RejectReason; message: string } };

/** Bounds against decompression bombs. */
export interface ArchiveLimits {
  /** Total uncompressed bytes of the archive stream; above it the whole request is refused (413). */
  maxTotalBytes: number;
  /** Entries (files, folders, links); above it the whole request is refused (413). */
  maxEntries: number;
  /** Uncompressed bytes of one file; a bigger one is refused as `too_large`, the rest go on. */
  maxEntryBytes: number;
}

/** Archive formats edgehead reads. */
export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

/** Detects a zip, tar or gzip (tar.gz) by its magic bytes; undefined for anything else. */
export function archiveFormat(bytes: Uint8Array): ArchiveFormat | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5)) return 'zip';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
  const magic = Buffer.from(bytes.subarray(257, 262)).toString('latin1');
  return magic === 'ustar' ? 'tar' : undefined;
}

const reject = (name: string, reason: RejectReason, message: string): ArchiveEntry => ({
  name,
  rejected: { reason, message },
});

function totalExceeded(limits: ArchiveLimits): ApiError {
  return tooLarge(
    `archive expands to more than ${limits.maxTotalBytes} bytes (EDGEHEAD_GPU_MAX_ARCHIVE_BYTES); split it`,
    { limit: 'maxArchiveBytes', max: limits.maxTotalBytes },
  );
}

function entriesExceeded(limits: ArchiveLimits, n: number): ApiError {
  return tooLarge(
    `archive has ${n} entries or more, the limit is ${limits.maxEntries} (EDGEHEAD_GPU_MAX_ARCHIVE_ENTRIES)`,
    { limit: 'maxArchiveEntries', max: limits.maxEntries },
  );
}

function entryTooLarge(name: string, size: number, limits: ArchiveLimits): ArchiveEntry {
  return reject(name, 'too_large', `${name}: ${size} bytes or more, the limit is ${limits.maxEntryBytes}`);
}

async function readTar(bytes: Uint8Array, gzip: boolean, limits: ArchiveLimits): Promise<ArchiveEntry[]> {
  let total = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      done(total > limits.maxTotalBytes ? totalExceeded(limits) : null, chunk);
    },
  });
  const extract = tar.extract();
  const source = Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
  const piping = gzip
    ? pipeline(source, createGunzip(), counter, extract)
    : pipeline(source, counter, extract);
  let pipeError: unknown;
  piping.catch((err) => {
    pipeError = err;
  });
  const out: ArchiveEntry[] = [];
  let count = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      if (++count > limits.maxEntries) throw entriesExceeded(limits, count);
      const name = h.name;
      if (h.type === 'directory') {
        entry.resume();
        continue;
      }
      if (h.type === 'symlink' || h.type === 'link') {
        out.push(reject(name, 'unsafe_path', `${name}: ${h.type} entries are refused`));
      } else if (h.type !== 'file' && h.type !== 'contiguous-file') {
        out.push(reject(name, 'unsupported_entry', `${name}: ${h.type} entries are not images`));
      } else if ((h.size ?? 0) > limits.maxEntryBytes) {
        out.push(entryTooLarge(name, h.size ?? 0, limits));
      } else {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        out.push({ name, data: new Uint8Array(Buffer.concat(chunks)) });
        continue;
      }
      entry.resume();
    }
    await piping;
  } catch (err) {
    await piping.catch(() => undefined);
    throw pipeError instanceof ApiError ? pipeError : err;
  }
  return out;
}

const CHUNK = 16 * 1024;

function inflateLimited(
  compressed: Uint8Array,
  maxBytes: number,
  addTotal: (n: number) => void,
): Uint8Array | undefined {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let over = false;
  const inflate = new Inflate((chunk) => {
    size += chunk.length;
    addTotal(chunk.length);
    if (size > maxBytes) over = true;
    else chunks.push(chunk);
  });
  // Small input slices bound how far one push can overshoot the limits (deflate expands at most ~1032x).
  for (let i = 0; i < compressed.length && !over; i += CHUNK) {
    inflate.push(compressed.subarray(i, i + CHUNK), i + CHUNK >= compressed.length);
  }
  if (over) return undefined;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function readZip(bytes: Uint8Array, limits: ArchiveLimits): ArchiveEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string) => new ApiError(400, 'bad_request', `zip archive is corrupt: ${why}`);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 65_557); p--) {
    if (view.getUint32(p, true) === 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory record');
  const count = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    throw new ApiError(400, 'bad_request', 'zip64 archives are not supported; use tar.gz');
  }
  if (count > limits.maxEntries) throw entriesExceeded(limits, count);
  let total = 0;
  const addTotal = (n: number) => {
    total += n;
    if (total > limits.maxTotalBytes) throw totalExceeded(limits);
  };
  const decoder = new TextDecoder();
  const out: ArchiveEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) {
      throw corrupt(`central directory entry ${i} at byte ${p}`);
    }
    const madeBy = view.getUint16(p + 4, true);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const compSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const attrs = view.getUint32(p + 38, true);
    const local = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    const unixMode = madeBy >> 8 === 3 ? attrs >>> 16 : 0;
    if ((unixMode & 0o170000) === 0o120000) {
      out.push(reject(name, 'unsafe_path', `${name}: symlink entries are refused`));
      continue;
    }
    if (flags & 1) {
      out.push(reject(name, 'unsupported_entry', `${name}: encrypted entries are not supported`));
      continue;
    }
    if (method !== 0 && method !== 8) {
      out.push(reject(name, 'unsupported_entry', `${name}: compression method ${method}, expected 0 or 8`));
      continue;
    }
    if (size > limits.maxEntryBytes) {
      out.push(entryTooLarge(name, size, limits));
      continue;
    }
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) {
      out.push(reject(name, 'corrupt', `${name}: local header missing`));
      continue;
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const compressed = bytes.subarray(start, start + compSize);
    if (compressed.length !== compSize) {
      out.push(reject(name, 'corrupt', `${name}: truncated, ${compressed.length} of ${compSize} bytes`));
      continue;
    }
    if (method === 0) {
      addTotal(compSize);
      out.push({ name, data: compressed.slice() });
      continue;
    }
    let data: Uint8Array | undefined;
    try {
      data = inflateLimited(compressed, limits.maxEntryBytes, addTotal);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      out.push(reject(name, 'corrupt', `${name}: cannot be inflated: ${(err as Error).message}`));
      continue;
    }
    // A declared size that lies is a bomb's tell; the inflated size is what counts.
    out.push(data === undefined ? entryTooLarge(name, limits.maxEntryBytes + 1, limits) : { name, data });
  }
  return out;
}

/**
 * Lists the members of a zip, tar or tar.gz laid out like Keras `flow_from_directory`. Links and
 * oversized members come back as refused entries; an archive over the total size or entry limit is
 * refused whole with a 413 before anything is stored.
 */
export async function readArchive(bytes: Uint8Array, limits: ArchiveLimits): Promise<ArchiveEntry[]> {
  const format = archiveFormat(bytes);
  try {
    if (format === 'zip') return readZip(bytes, limits);
    if (format === 'tar' || format === 'tar.gz') return await readTar(bytes, format === 'tar.gz', limits);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(
      400,
      'bad_request',
      `${format} archive cannot be read: ${(err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  throw new ApiError(
    415,
    'unsupported_media_type',
    `body of ${bytes.length} bytes is not a zip, tar or tar.gz archive`,
  );
}
