import { createHash } from 'node:crypto';
import { parseFeatureSetKey } from '@edgehead/backbones';
import type { HeadManifest } from '@edgehead/contracts';
import {
  HEAD_ARTIFACT_FILES,
  type HeadArtifactFiles,
  type TfjsModelArtifacts,
  writeHeadArtifact,
} from '@edgehead/head';
import type { TrainResult } from '@edgehead/training';

/** What the manifest says about a trained head besides its files. */
export interface ArtifactFields {
  /** The stored feature-set key the head was trained on, e.g. `mobilenet_v1_0.75+avg` (the manifest's backbone). */
  featureSet: string;
  featureShape: number[];
  classes: string[];
  threshold: number | null;
  metrics: Record<string, number>;
  runId: string;
}

/** A written artifact, ready for `registerModel`. */
export interface BuiltArtifact {
  manifest: HeadManifest;
  /** sha256 of manifest.json (which lists the sha256 of the other files). */
  artifactSha256: string;
  files: { path: string; sha256: string; data: Uint8Array }[];
  raw: HeadArtifactFiles;
}

/**
 * Saves a trained tfjs head as the edgehead artifact (TF.js layers model.json + weights.bin + manifest.json)
 * through packages/head, which verifies what it writes. The manifest's `backbone` is the feature-set key,
 * so a client knows exactly which features (backbone, pooling, preprocessing) the head expects.
 */
export async function buildArtifact(
  model: TrainResult['model'],
  fields: ArtifactFields,
): Promise<BuiltArtifact> {
  let captured: TfjsModelArtifacts | undefined;
  await model.save({
    save: async (artifacts) => {
      captured = artifacts as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  if (!captured) throw new Error(`model.save of run ${fields.runId} handed over no artifacts`);
  const key = parseFeatureSetKey(fields.featureSet);
  const raw = await writeHeadArtifact(captured, {
    backbone: fields.featureSet,
    // user backbones' keys carry their preprocessing (`@tf`); a key without one means plain x / 255
    preprocessing: key.preprocessing ?? 'rescale',
    featureShape: fields.featureShape,
    task: fields.classes.length === 2 ? 'binary' : 'multiclass',
    classes: fields.classes,
    threshold: fields.threshold,
    metrics: fields.metrics,
    runId: fields.runId,
  });
  const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
  const manifest = JSON.parse(new TextDecoder().decode(raw['manifest.json'])) as HeadManifest;
  return {
    manifest,
    artifactSha256: sha(raw['manifest.json']),
    files: HEAD_ARTIFACT_FILES.map((path) => ({ path, sha256: sha(raw[path]), data: raw[path] })),
    raw,
  };
}
