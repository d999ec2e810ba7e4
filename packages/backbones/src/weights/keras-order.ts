import type * as tf from '@tensorflow/tfjs';
import { BackboneError, shapeString } from '../errors.ts';
import { describeWeights, type WeightLookup } from './assign.ts';
import type { KerasWeights, StoredLayer } from './hdf5.ts';

/** Keras' `naming.to_snake_case`: `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The path Keras 3's `saving_lib` gives each layer of a functional model, in `model.layers` order:
 * the snake-cased class name, numbered from the second of a class on (`layers/conv2d`,
 * `layers/conv2d_1`, ...). tfjs-layers orders `model.layers` with Keras' own algorithm (by depth,
 * then traversal order), so the same topology gives the same paths.
 */
export function keras3Paths(model: tf.LayersModel): string[] {
  const used = new Map<string, number>();
  return model.layers.map((layer) => {
    const base = kerasSnakeCase(layer.getClassName());
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return `layers/${n === undefined ? base : `${base}_${n + 1}`}`;
  });
}

const withWeights = (layers: readonly tf.layers.Layer[]) => layers.filter((l) => l.weights.length > 0);

function shapesOf(stored: StoredLayer): string {
  return stored.weights.map((w) => shapeString(w.shape)).join(' ');
}
function modelShapesOf(layer: tf.layers.Layer): string {
  return layer.weights.map((w) => shapeString(w.shape)).join(' ');
}

/** Keras 2 (`load_weights_from_hdf5_group`): the i-th layer with weights gets the file's i-th. */
function pairByOrder(model: tf.LayersModel, stored: StoredLayer[], label: string): Map<string, StoredLayer> {
  const layers = withWeights(model.layers);
  const filed = stored.filter((s) => s.weights.length > 0);
  if (layers.length !== filed.length) {
    const k = layers.findIndex((l, i) => {
      const f = filed[i];
      return f === undefined || modelShapesOf(l) !== shapesOf(f);
    });
    const at = k < 0 ? layers.length : k;
    const model_ = layers[at];
    const file = filed[at];
    throw new BackboneError(
      'weights_missing_layer',
      `${label}: the file holds weights for ${filed.length} layers, the model has ${layers.length} layers with ` +
        `weights (Keras 2 files load by layer order); they first differ at #${at}: model ` +
        `${model_ === undefined ? 'nothing' : `${model_.name} (${describeWeights(model_.weights)})`}, file ` +
        `${file === undefined ? 'nothing' : `${file.key} (${shapesOf(file)})`}`,
      { details: { expected: layers.length, actual: filed.length, index: at } },
    );
  }
  return new Map(layers.map((l, i) => [l.name, filed[i] as StoredLayer]));
}

/** `94 conv2d, 94 batch_normalization`: how many layers of each class a list of Keras 3 paths names. */
function classCounts(paths: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const p of paths) {
    const cls = p.replace(/^layers\//, '').replace(/_\d+$/, '');
    counts.set(cls, (counts.get(cls) ?? 0) + 1);
  }
  return counts.size === 0 ? 'no weights' : [...counts].map(([cls, n]) => `${n} ${cls}`).join(', ');
}

/** Keras 3 (`saving_lib._load_container_state`): each layer reads the entry at its path. */
function pairByPath(
  model: tf.LayersModel,
  stored: Map<string, StoredLayer>,
  label: string,
): Map<string, StoredLayer> {
  const paths = keras3Paths(model);
  const pairs = new Map<string, StoredLayer>();
  const used = new Set<string>();
  for (const [i, layer] of model.layers.entries()) {
    const path = paths[i] as string;
    const entry = stored.get(path);
    if (entry !== undefined) used.add(path);
    if (layer.weights.length === 0) continue;
    if (entry === undefined || entry.weights.length === 0) {
      const held = [...stored.values()].filter((s) => s.weights.length > 0).map((s) => s.key);
      const read = paths.filter((_, j) => (model.layers[j]?.weights.length ?? 0) > 0);
      throw new BackboneError(
        'weights_missing_layer',
        `${label}: layer ${layer.name} reads ${path}/vars, which the file lacks (expected ` +
          `${describeWeights(layer.weights)}); the model reads ${classCounts(read)}, the file holds ${classCounts(held)}`,
        { details: { layer: layer.name, path } },
      );
    }
    pairs.set(layer.name, entry);
  }
  const extra = [...stored.values()].filter((s) => !used.has(s.key) && s.weights.length > 0);
  if (extra.length > 0) {
    throw new BackboneError(
      'weights_missing_layer',
      `${label}: the file holds weights the model has no layer for: ${extra
        .slice(0, 6)
        .map((s) => `${s.key}${s.name ? ` (${s.name})` : ''}`)
        .join(', ')}${extra.length > 6 ? ` and ${extra.length - 6} more` : ''} (it is another model's file)`,
      { details: { paths: extra.map((s) => s.key) } },
    );
  }
  return pairs;
}

/**
 * Matches a Keras weights file to a model the way Keras' `model.load_weights` does: a Keras 2 file by
 * the order of the layers that have weights (so `conv2d_1` in a Keras 2.0 file fills today's
 * `conv2d`), a Keras 3 file by each layer's class-numbered path. Names are only reported, never matched.
 */
export function kerasLookup(model: tf.LayersModel, weights: KerasWeights, label: string): WeightLookup {
  const pairs =
    weights.layout === 'keras2'
      ? pairByOrder(model, weights.layers, label)
      : pairByPath(model, weights.layers, label);
  return (layer) => {
    const entry = pairs.get(layer.name);
    if (entry === undefined) return undefined;
    const where =
      entry.name !== undefined && entry.name !== entry.key ? `${entry.key} "${entry.name}"` : entry.key;
    return { where, weights: entry.weights };
  };
}
