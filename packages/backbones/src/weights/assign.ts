import * as tf from '@tensorflow/tfjs';
import { BackboneError, shapeString } from '../errors.ts';
import type { WeightArray } from './hdf5.ts';

/** The stored weights found for one model layer, in the layer's weight order, and where they are. */
export interface LayerWeights {
  /** The layer's key in the source (`conv2d_5` in a Keras 2 file, `layers/conv2d_5` in a Keras 3 file). */
  where: string;
  /** One entry per stored weight; `undefined` where a weight the layer needs is absent. */
  weights: readonly (WeightArray | undefined)[];
}

/** Finds the stored weights of a model layer (undefined when the source has none for it). */
export type WeightLookup = (layer: tf.layers.Layer) => LayerWeights | undefined;

function shortName(originalName: string): string {
  return originalName.split('/').pop()?.replace(/:\d+$/, '') ?? originalName;
}

function sameShape(a: readonly number[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `kernel [3,3,3,64], bias [64]`: a layer's weights as messages list them. */
export function describeWeights(
  vars: readonly { originalName: string; shape: readonly (number | null)[] }[],
): string {
  return vars.map((v) => `${shortName(v.originalName)} ${shapeString(v.shape)}`).join(', ');
}

/**
 * Copies weights into every layer of `model` that has weights, checking presence, count and shapes
 * first so that nothing is half-assigned when the source does not fit; `label` names it in errors.
 */
export function assignWeights(model: tf.LayersModel, lookup: WeightLookup, label: string): void {
  const plan: { layer: tf.layers.Layer; values: WeightArray[] }[] = [];
  for (const layer of model.layers) {
    const vars = layer.weights;
    if (vars.length === 0) continue;
    const expected = describeWeights(vars);
    const found = lookup(layer);
    if (found === undefined) {
      throw new BackboneError(
        'weights_missing_layer',
        `${label}: layer ${layer.name} has no weights in the file (expected ${expected})`,
        { details: { layer: layer.name, expected: vars.map((v) => v.shape) } },
      );
    }
    if (found.weights.length !== vars.length) {
      const actual = found.weights.map((w) => `${w?.name ?? '?'} ${shapeString(w?.shape ?? [])}`).join(', ');
      throw new BackboneError(
        'weights_shape_mismatch',
        `${label}: layer ${layer.name} (${found.where} in the file): ${found.weights.length} weights (${actual}), ` +
          `expected ${vars.length} (${expected})`,
        {
          details: {
            layer: layer.name,
            stored: found.where,
            expected: vars.length,
            actual: found.weights.length,
          },
        },
      );
    }
    const values: WeightArray[] = [];
    for (const [i, v] of vars.entries()) {
      const w = found.weights[i];
      const weight = shortName(v.originalName);
      if (w === undefined) {
        throw new BackboneError(
          'weights_missing_layer',
          `${label}: layer ${layer.name} has no ${weight} weight (expected ${expected})`,
          { details: { layer: layer.name, weight, expected: v.shape } },
        );
      }
      if (!sameShape(w.shape, v.shape)) {
        throw new BackboneError(
          'weights_shape_mismatch',
          `${label}: layer ${layer.name}: ${weight} shape ${shapeString(w.shape)}, expected ${shapeString(v.shape)} ` +
            `(stored as ${w.name})`,
          { details: { layer: layer.name, weight, stored: w.name, expected: v.shape, actual: w.shape } },
        );
      }
      values.push(w);
    }
    plan.push({ layer, values });
  }
  for (const { layer, values } of plan) {
    const tensors = values.map((w) => tf.tensor(w.data, w.shape, 'float32'));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/** A lookup over decoded TF.js weights: by original name (`block1_conv1/kernel`), `:0` suffixes ignored. */
export function namedLookup(named: Map<string, WeightArray>): WeightLookup {
  const byName = new Map<string, WeightArray>();
  for (const [k, v] of named) byName.set(k.replace(/:\d+$/, ''), v);
  return (layer) => ({
    where: layer.name,
    weights: layer.weights.map((v) => byName.get(v.originalName.replace(/:\d+$/, ''))),
  });
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
