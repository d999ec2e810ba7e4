import { type ExtractionProgress, featureSetLabel } from '@edgehead/contracts';
import { formatDuration, type table } from '../output.ts';

/** An extraction as a table row: dataset, feature set, state, done/total, images/s, ETA, error. */
export function extractionRow(p: ExtractionProgress) {
  return {
    id: p.id,
    dataset: p.datasetName,
    featureSet: featureSetLabel(p.featureSet),
    state: p.state,
    done: `${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}`,
    imagesPerSecond: p.imagesPerSecond,
    eta: p.etaSeconds === null ? null : formatDuration(p.etaSeconds * 1000),
    error: p.error,
  };
}

/** The columns of `extractionRow` in table order. */
export const EXTRACTION_COLUMNS: Parameters<typeof table<ReturnType<typeof extractionRow>>>[1] = [
  'id',
  'dataset',
  'featureSet',
  'state',
  'done',
  ['imagesPerSecond', 'images/s'],
  'eta',
  'error',
];
