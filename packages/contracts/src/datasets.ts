import { z } from 'zod';
import { extractionProgress } from './extraction.ts';

/** The splits of a dataset, as Keras `flow_from_directory` folders name them. */
export const split = z.enum(['train', 'validation', 'test']);
export type Split = z.infer<typeof split>;

/** Every split, in the order they are listed. */
export const SPLITS = split.options;

/** What a head decides: one of two classes (a sigmoid) or one of many (a softmax). */
export const task = z.enum(['binary', 'multiclass']);
export type Task = z.infer<typeof task>;

/** Path params of the `/v1/datasets/:id` routes: a dataset's id or its name. */
export const datasetParams = z.object({ id: z.string().min(1).max(200) });

/** `POST /v1/datasets`: a name and the class names in head output order. */
export const createDatasetRequest = z.strictObject({
  name: z.string().trim().min(1).max(128),
  classes: z.array(z.string().trim().min(1).max(128)).min(2).max(10_000),
  task: task.optional(),
});
export type CreateDatasetRequest = z.infer<typeof createDatasetRequest>;

/** A dataset as lists show it. */
export const datasetSummary = z.object({
  id: z.string(),
  name: z.string(),
  task,
  classes: z.array(z.string()),
  createdAt: z.string(),
  counts: z.record(split, z.number().int()),
});
export type DatasetSummary = z.infer<typeof datasetSummary>;

/** `GET /v1/datasets` (and the dashboard's `/api/datasets`): every dataset, newest first. */
export const datasetList = z.object({ datasets: z.array(datasetSummary) });
export type DatasetList = z.infer<typeof datasetList>;

/** `GET /v1/datasets/:id`: the summary plus counts per split and label and its extractions. */
export const datasetDetail = datasetSummary.extend({
  labels: z.array(z.object({ split, label: z.string(), n: z.number().int() })),
  failedImages: z.number().int(),
  /** One per feature set extracted (or being extracted) for this dataset. */
  extractions: z.array(extractionProgress),
});
export type DatasetDetail = z.infer<typeof datasetDetail>;

/** Why one uploaded file was not stored. */
export const rejectReason = z.enum([
  'not_an_image',
  'corrupt',
  'too_large',
  'unknown_split',
  'unknown_label',
  'unsafe_path',
  'unsupported_entry',
]);
export type RejectReason = z.infer<typeof rejectReason>;

/** The answer for one file of an upload, in request order. */
export const uploadFileResult = z.discriminatedUnion('status', [
  z.object({
    name: z.string(),
    status: z.literal('accepted'),
    imageId: z.string(),
    split,
    label: z.string(),
  }),
  z.object({
    name: z.string(),
    status: z.literal('duplicate'),
    imageId: z.string(),
    split,
    label: z.string(),
  }),
  z.object({ name: z.string(), status: z.literal('rejected'), reason: rejectReason, message: z.string() }),
]);
export type UploadFileResult = z.infer<typeof uploadFileResult>;

/** Answer of every upload route: totals and one entry per file. */
export const uploadResponse = z.object({
  datasetId: z.string(),
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  files: z.array(uploadFileResult),
});
export type UploadResponse = z.infer<typeof uploadResponse>;

/**
 * Multipart upload form fields (besides the files): `split` and `label` apply to every file of the
 * request; without them each file name must carry them as `split/label/file` (or `label/file` with `split`).
 */
export const uploadFields = z.object({
  split: split.optional(),
  label: z.string().min(1).optional(),
});
export type UploadFields = z.infer<typeof uploadFields>;

/** `POST /v1/datasets/:id/folder`: a server-side folder laid out `split/label/file`, under the import root. */
export const registerFolderRequest = z.strictObject({
  /** Relative to the service's import root (EDGEHEAD_IMPORT_ROOT), or absolute inside it. */
  path: z.string().min(1).max(4096),
  /** Copy the bytes into the database instead of storing a `file:` reference (default false). */
  copy: z.boolean().default(false),
});
export type RegisterFolderRequest = z.infer<typeof registerFolderRequest>;
