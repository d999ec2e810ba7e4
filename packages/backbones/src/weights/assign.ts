import * as tf from '@tensorflow/tfjs';
import { BackboneError, shapeString } from '../errors.ts';
import type { LayerWeightMap, WeightArray } from './hdf5.ts';

/** Finds the stored value for weight `index` (named `originalName`, e.g. `conv1/kernel`) of `layer`. */
export type WeightLookup = (layer: string, index: number, originalName: string) => WeightArray | undefined;

function shortName(originalName: string): string {
  return originalName.split('/').pop()?.replace(/:\d+$/, '') ?? originalName;
}

function sameShape(a: readonly number[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Copies weights into every layer of `model` that has weights, checking presence and shapes first so
 * that nothing is half-assigned when the file does not fit; `label` names the source in errors.
 */
export function assignWeights(model: tf.LayersModel, lookup: WeightLookup, label: string): void {
  const plan: { layer: tf.layers.Layer; values: WeightArray[] }[] = [];
  for (const layer of model.layers) {
    const vars = layer.weights;
    if (vars.length === 0) continue;
    const expectedList = vars.map((v) => `${shortName(v.originalName)} ${shapeString(v.shape)}`).join(', ');
    const values: WeightArray[] = [];
    for (const [i, v] of vars.entries()) {
      const found = lookup(layer.name, i, v.originalName);
      if (found === undefined) {
        throw new BackboneError(
          'weights_missing_layer',
          `${label}: layer ${layer.name} has no ${shortName(v.originalName)} weight (expected ${expectedList})`,
          { details: { layer: layer.name, weight: shortName(v.originalName), expected: v.shape } },
        );
      }
      if (!sameShape(found.shape, v.shape)) {
        throw new BackboneError(
          'weights_shape_mismatch',
          `${label}: layer ${layer.name}: ${shortName(v.originalName)} shape ${shapeString(found.shape)}, ` +
            `expected ${shapeString(v.shape)}`,
          {
            details: {
              layer: layer.name,
              weight: shortName(v.originalName),
              expected: v.shape,
              actual: found.shape,
            },
          },
        );
      }
      values.push(found);
    }
    plan.push({ layer, values });
  }
  for (const { layer, values } of plan) {
    const tensors = values.map((w) => tf.tensor(w.data, w.shape, 'float32'));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/** A lookup over Keras HDF5 weights: by layer name, then by position (Keras' own rule). */
export function h5Lookup(weights: LayerWeightMap, label: string): WeightLookup {
  return (layer, index) => {
    const list = weights.get(layer);
    if (list === undefined) return undefined;
    if (index === 0 && list.length === 0) {
      throw new BackboneError(
        'weights_missing_layer',
        `${label}: layer ${layer} is present but holds no weights`,
        {
          details: { layer },
        },
      );
    }
    return list[index];
  };
}

/** A lookup over decoded TF.js weights: by original name (`block1_conv1/kernel`), `:0` suffixes ignored. */
export function namedLookup(named: Map<string, WeightArray>): WeightLookup {
  const byName = new Map<string, WeightArray>();
  for (const [k, v] of named) byName.set(k.replace(/:\d+$/, ''), v);
  return (_layer, _index, originalName) => byName.get(originalName.replace(/:\d+$/, ''));
}

/** Decodes TF.js weight data into float32 arrays keyed by weight name. */
export function decodeNamedWeights(
  data: ArrayBuffer,
  specs: tf.io.WeightsManifestEntry[],
): Map<string, WeightArray> {
  const tensors = tf.io.decodeWeights(data, specs);
  const out = new Map<string, WeightArray>();
  for (const [name, t] of Object.entries(tensors)) {
    out.set(name, {
      name,
      shape: t.shape,
      data: t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync()),
    });
    t.dispose();
  }
  return out;
}
