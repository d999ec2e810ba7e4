import {
  type CreateDatasetRequest,
  type DatasetDetail,
  type DatasetSummary,
  SPLITS,
  type Split,
} from '@edgehead/contracts';
import {
  countFailedImages,
  countImages,
  createDataset,
  type Dataset,
  deleteDataset,
  getDataset,
  listDatasets,
  listExtractions,
} from '@edgehead/db';
import type { AppDeps } from '../deps.ts';

function summary(d: Dataset, counts: Record<Split, number>): DatasetSummary {
  return {
    id: d.id,
    name: d.name,
    task: d.task,
    classes: d.classes,
    createdAt: d.createdAt.toISOString(),
    counts,
  };
}

/** Creates a dataset (409 when the name is taken). */
export async function createDatasetFor(deps: AppDeps, input: CreateDatasetRequest): Promise<DatasetSummary> {
  const d = await createDataset(deps.db, input);
  return summary(d, { train: 0, validation: 0, test: 0 });
}

/** Every dataset with image counts per split, newest first. */
export async function listDatasetsFor(deps: AppDeps): Promise<DatasetSummary[]> {
  return (await listDatasets(deps.db)).map((d) => summary(d, d.counts));
}

/** One dataset with counts per split and label, failed images and every extraction with its progress. */
export async function datasetDetail(deps: AppDeps, idOrName: string): Promise<DatasetDetail> {
  const d = await getDataset(deps.db, idOrName);
  const [labels, failedImages, extractions] = await Promise.all([
    countImages(deps.db, d.id),
    countFailedImages(deps.db, d.id),
    listExtractions(deps.db, { datasetId: d.id }),
  ]);
  const counts = Object.fromEntries(SPLITS.map((s) => [s, 0])) as Record<Split, number>;
  for (const l of labels) counts[l.split] += l.n;
  return { ...summary(d, counts), labels, failedImages, extractions };
}

/** Deletes a dataset with its images and features. */
export async function deleteDatasetFor(deps: AppDeps, idOrName: string): Promise<DatasetSummary> {
  const d = await deleteDataset(deps.db, idOrName);
  return summary(d, { train: 0, validation: 0, test: 0 });
}
