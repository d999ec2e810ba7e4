// Builds small tfjs heads and their artifacts for tests (Node only; tfjs is a devDependency).
import { type FeatureSetRecord, featureSetKey } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import {
  type HeadArtifactFiles,
  type HeadManifestFields,
  type TfjsModelArtifacts,
  writeHeadArtifact,
} from './artifact.ts';

/** Saves a tfjs model into in-memory artifacts. */
export async function saveArtifacts(model: tf.LayersModel): Promise<TfjsModelArtifacts> {
  let saved: TfjsModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('tfjs save handler was not called');
  return saved;
}

/** Gives every Dense layer non-zero biases so the bias path is exercised. */
export function randomizeBiases(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Dense') continue;
    const [kernel, bias] = layer.getWeights();
    if (kernel && bias) layer.setWeights([kernel, tf.randomUniform(bias.shape, -0.3, 0.3, 'float32', seed)]);
  }
}

/** The recipe head: flatten -> Dense(256, relu) -> Dropout(0.5) -> Dense(1, sigmoid) on `shape`. */
export function recipeHead(shape: number[] = [4, 4, 512], hidden = 256): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: shape }),
      tf.layers.dense({ units: hidden, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
}

/** A feature-set record of vectors of `featureShape`. */
export function featureSetOf(featureShape: number[]): FeatureSetRecord {
  const identity = {
    backbone: 'vgg16',
    weights: { sha256: 'a'.repeat(64), source: 'random' },
    pooling: 'none' as const,
    preprocessing: 'rescale' as const,
    inputSize: [150, 150] as [number, number],
    featureLayer: 'block5_pool',
    featureShape,
    provenance: null,
  };
  return {
    ...identity,
    id: '00000000-0000-4000-8000-000000000001',
    key: featureSetKey(identity),
    createdAt: new Date(0).toISOString(),
  };
}

/** Manifest fields for a binary cats/dogs head. */
export function binaryFields(featureShape: number[]): HeadManifestFields {
  return {
    featureSet: featureSetOf(featureShape),
    featureShape,
    task: 'binary',
    classes: ['cats', 'dogs'],
    threshold: 0.5,
  };
}

/** Writes a tfjs model through the artifact writer. */
export async function artifactOf(
  model: tf.LayersModel,
  fields: HeadManifestFields,
): Promise<HeadArtifactFiles> {
  return (await writeHeadArtifact(await saveArtifacts(model), fields)).files;
}
