import { createHash } from 'node:crypto';
import { decodeImage, isBackboneError } from '@edgehead/backbones';
import {
  type RejectReason,
  SPLITS,
  type Split,
  type UploadFileResult,
  type UploadResponse,
} from '@edgehead/contracts';
import { addImage, type Dataset, InvalidInputError } from '@edgehead/db';
import type { AppDeps } from '../deps.ts';
import { labelsFromPath } from './paths.ts';

/** One file of an upload before validation. */
export interface IncomingFile {
  /** Name as uploaded (a relative path inside an archive or folder). */
  name: string;
  /** Relative path the split and label are read from (default: `name`). */
  path?: string;
  /** Batch-wide split and label; the name's folders are used where these are absent. */
  split?: string | undefined;
  label?: string | undefined;
  /** The bytes, or how to read them (folders are read one file at a time). */
  data?: Uint8Array;
  read?: () => Promise<Uint8Array>;
  /** Stored by reference (`file:<path>`) instead of copying the bytes into the database. */
  storageKey?: string;
  /** Refused before reading (unsafe path, link, too large inside an archive...). */
  rejected?: { reason: RejectReason; message: string };
}

const REASONS: Partial<Record<string, RejectReason>> = {
  not_an_image: 'not_an_image',
  corrupt_image: 'corrupt',
  image_too_large: 'too_large',
};

/** How many files of an upload are decoded at once (sharp works on libuv's threads). */
export const UPLOAD_DECODE_CONCURRENCY = 4;

async function ingestOne(deps: AppDeps, dataset: Dataset, file: IncomingFile): Promise<UploadFileResult> {
  const name = file.name;
  const refuse = (reason: RejectReason, message: string): UploadFileResult => ({
    name,
    status: 'rejected',
    reason,
    message,
  });
  if (file.rejected) return refuse(file.rejected.reason, file.rejected.message);
  const where = labelsFromPath(file.path ?? name, { split: file.split, label: file.label });
  if (!where.ok) return refuse(where.reason, where.message);
  const { split, label } = where;
  if (split === undefined || !SPLITS.includes(split as Split)) {
    return refuse(
      'unknown_split',
      split === undefined
        ? `${name}: no split; send a split field or name files split/label/file`
        : `${name}: split ${JSON.stringify(split)} is not one of ${SPLITS.join(', ')}`,
    );
  }
  if (label === undefined || !dataset.classes.includes(label)) {
    return refuse(
      'unknown_label',
      label === undefined
        ? `${name}: no label; send a label field or name files split/label/file`
        : `${name}: label ${JSON.stringify(label)} is not one of ${dataset.classes.join(', ')}`,
    );
  }
  const { maxImageBytes, maxPixels } = deps.env.limits;
  const data = file.data ?? (await file.read?.());
  if (data === undefined) return refuse('corrupt', `${name}: no content`);
  if (data.length > maxImageBytes) {
    return refuse('too_large', `${name}: ${data.length} bytes, the limit is ${maxImageBytes}`);
  }
  let width: number;
  let height: number;
  try {
    // A full decode (tiny output) proves the bytes are a whole image, not just a valid header.
    const decoded = await decodeImage(data, [8, 8], { maxPixels });
    width = decoded.originalWidth;
    height = decoded.originalHeight;
  } catch (err) {
    const reason = isBackboneError(err) ? REASONS[err.code] : undefined;
    if (reason === undefined) throw err;
    return refuse(reason, `${name}: ${(err as Error).message}`);
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  try {
    const { image, duplicate } = await addImage(deps.db, {
      datasetId: dataset.id,
      split,
      label,
      sha256,
      originalName: name.slice(0, 1024),
      width,
      height,
      bytes: data.length,
      ...(file.storageKey === undefined ? { data } : { storageKey: file.storageKey }),
    });
    return {
      name,
      status: duplicate ? 'duplicate' : 'accepted',
      imageId: image.id,
      split: image.split,
      label: image.label,
    };
  } catch (err) {
    if (err instanceof InvalidInputError) {
      const field = err.details?.field;
      return refuse(
        field === 'split' ? 'unknown_split' : field === 'label' ? 'unknown_label' : 'corrupt',
        err.message,
      );
    }
    throw err;
  }
}

/**
 * Validates and stores files one by one (decode check, sha256 dedup); a bad file becomes a `rejected`
 * entry and never stops the others. Answers in input order.
 */
export async function ingestFiles(
  deps: AppDeps,
  dataset: Dataset,
  files: readonly IncomingFile[],
): Promise<UploadResponse> {
  const results: UploadFileResult[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await ingestOne(deps, dataset, files[i] as IncomingFile);
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_DECODE_CONCURRENCY, files.length) }, worker));
  const n = (s: UploadFileResult['status']) => results.filter((r) => r.status === s).length;
  return {
    datasetId: dataset.id,
    accepted: n('accepted'),
    duplicates: n('duplicate'),
    rejected: n('rejected'),
    files: results,
  };
}
