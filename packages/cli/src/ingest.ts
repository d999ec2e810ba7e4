import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Split, split as splitSchema, type UploadFileResult } from '@edgehead/contracts';
import { CliError } from './errors.ts';
import { type GpuClient, ok } from './http.ts';

/** One file found in a `split/label/file` tree. */
export interface FoundFile {
  split: Split;
  label: string;
  /** Path on disk. */
  file: string;
  /** Name sent to the service: `split/label/file`. */
  name: string;
  bytes: number;
}

/** Files of `dir` laid out `split/label/file`; folders that are not a split are an error naming them. */
export async function scanDataset(dir: string): Promise<{ files: FoundFile[]; classes: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((cause: Error) => {
    throw new CliError('usage', `cannot read ${dir}: ${cause.message}`, undefined, { cause });
  });
  const files: FoundFile[] = [];
  const classes = new Set<string>();
  const splits = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const unknown = splits.filter((e) => !splitSchema.safeParse(e.name).success).map((e) => e.name);
  if (unknown.length > 0 || splits.length === 0) {
    throw new CliError(
      'usage',
      `${dir}: expected folders train/, validation/, test/ (each with one folder per class); found ${splits.map((e) => `${e.name}/`).join(', ') || 'none'}`,
    );
  }
  for (const s of splits.sort((a, b) => a.name.localeCompare(b.name))) {
    const splitName = s.name as Split;
    const labels = (await readdir(path.join(dir, s.name), { withFileTypes: true })).filter(
      (e) => e.isDirectory() && !e.name.startsWith('.'),
    );
    for (const l of labels.sort((a, b) => a.name.localeCompare(b.name))) {
      classes.add(l.name);
      const names = (await readdir(path.join(dir, s.name, l.name))).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) {
        const file = path.join(dir, s.name, l.name, n);
        const info = await stat(file);
        if (!info.isFile()) continue;
        files.push({
          split: splitName,
          label: l.name,
          file,
          name: `${splitName}/${l.name}/${n}`,
          bytes: info.size,
        });
      }
    }
  }
  return { files, classes: [...classes].sort() };
}

/** Splits `files` into batches of at most `maxFiles` files and about `maxBytes` bytes. */
export function batches<T extends { bytes: number }>(
  files: readonly T[],
  maxFiles: number,
  maxBytes: number,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const f of files) {
    if (current.length > 0 && (current.length >= maxFiles || size + f.bytes > maxBytes)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(f);
    size += f.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Totals of an ingest and every rejected file with its reason. */
export interface IngestResult {
  files: number;
  accepted: number;
  duplicates: number;
  rejected: Extract<UploadFileResult, { status: 'rejected' }>[];
  ms: number;
}

/**
 * Uploads `files` to dataset `datasetId` as multipart batches (`concurrency` in flight); `onProgress` is
 * called after each batch with the number of files done.
 */
export async function uploadFiles(
  gpu: GpuClient,
  datasetId: string,
  files: readonly FoundFile[],
  options: {
    batchFiles?: number;
    batchBytes?: number;
    concurrency?: number;
    onProgress?: (done: number, result: IngestResult) => void;
  } = {},
): Promise<IngestResult> {
  const started = Date.now();
  const result: IngestResult = { files: files.length, accepted: 0, duplicates: 0, rejected: [], ms: 0 };
  const queue = batches(files, options.batchFiles ?? 64, options.batchBytes ?? 8 * 1024 * 1024);
  let done = 0;
  const worker = async () => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      const form = new FormData();
      for (const f of batch) form.append('files', new Blob([await readFile(f.file)]), f.name);
      const answer = await ok(
        gpu.v1.datasets[':id'].images.$post({ param: { id: datasetId } }, { init: { body: form } }),
      );
      result.accepted += answer.accepted;
      result.duplicates += answer.duplicates;
      for (const r of answer.files) if (r.status === 'rejected') result.rejected.push(r);
      done += batch.length;
      options.onProgress?.(done, result);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker));
  result.ms = Date.now() - started;
  return result;
}
