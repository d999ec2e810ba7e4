import type { FeatureSetRecord, HeadManifest } from '@edgehead/contracts';
import {
  HEAD_ARTIFACT_FILES,
  type HeadArtifactFiles,
  type TfjsModelArtifacts,
  writeHeadArtifact,
} from '@edgehead/head';
import type { TrainResult } from '@edgehead/training';

/** What the manifest says about a trained head besides its files. */
export interface ArtifactFields {
  /** The feature set whose vectors the head was trained on (the manifest carries the record). */
  featureSet: FeatureSetRecord;
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
 * through packages/head, which verifies what it writes and hands back the manifest and checksums. The manifest (`edgehead-head/2`) carries the
 * feature-set record, so a client knows exactly which features (weights, pooling, preprocessing) the head
 * expects and can ask the gpu service for them by id.
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
  const written = await writeHeadArtifact(captured, {
    featureSet: fields.featureSet,
    featureShape: fields.featureShape,
    task: fields.classes.length === 2 ? 'binary' : 'multiclass',
    classes: fields.classes,
    threshold: fields.threshold,
    metrics: fields.metrics,
    runId: fields.runId,
  });
  const { files, manifest, sha256 } = written;
  return {
    manifest,
    artifactSha256: sha256['manifest.json'],
    files: HEAD_ARTIFACT_FILES.map((path) => ({ path, sha256: sha256[path], data: files[path] })),
    raw: files,
  };
}
