import type { Preprocessing } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { type AugmentRequest, augmentedInputs } from './augment.ts';
import { BackboneError, shapeString } from './errors.ts';
import { preprocessInto } from './preprocess.ts';

/**
 * Named sets of layers to fine-tune per built-in backbone: the recipe's VGG16 `block5` (block4_pool and
 * below stay frozen) and the last depthwise-separable block of each MobileNet, with its BatchNorms.
 */
export const UNFREEZE_PRESETS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  vgg16: { block5: ['block5_conv1', 'block5_conv2', 'block5_conv3'] },
  'mobilenet_v1_0.75': { 'last-block': ['conv_dw_13', 'conv_dw_13_bn', 'conv_pw_13', 'conv_pw_13_bn'] },
  'mobilenet_v2_0.35': {
    // block_16 and the 1x1 Conv_1 after it (out_relu, the feature layer, has no weights).
    'last-block': [
      'block_16_expand',
      'block_16_expand_BN',
      'block_16_depthwise',
      'block_16_depthwise_BN',
      'block_16_project',
      'block_16_project_BN',
      'Conv_1',
      'Conv_1_bn',
    ],
  },
};

/**
 * Replaces preset names of `backbone` (see UNFREEZE_PRESETS) by their layers; other entries are layer
 * names and pass through. @example expandUnfreeze('vgg16', ['block5']) // ['block5_conv1', ...]
 */
export function expandUnfreeze(backbone: string, entries: readonly string[]): string[] {
  const presets = UNFREEZE_PRESETS[backbone] ?? {};
  return entries.flatMap((entry) => (Object.hasOwn(presets, entry) ? [...(presets[entry] ?? [])] : [entry]));
}

/**
 * A backbone cut below its unfrozen top: the frozen part runs once, the top trains. Both are views on the
 * source model's layers: call `dispose()` when done with them (it releases what `top` holds and leaves the
 * source model intact); never dispose `frozen` or `top` themselves.
 */
export interface BackboneSplit {
  /** input image -> activations at the cut; shares its layers (and weights) with the source model. */
  frozen: tf.LayersModel;
  /** activations at the cut -> the backbone's output; shares its layers (and weights) with the source model. */
  top: tf.LayersModel;
  /** The layer whose output is the cut, e.g. `block4_pool` for VGG16 `block5`. */
  cutLayer: string;
  /** Shape of one activation at the cut, e.g. [9, 9, 512] for VGG16 at 150x150. */
  cutShape: number[];
  /** The layers to train, in model order (each has weights; BatchNorm moving statistics are not trained). */
  unfrozen: string[];
  /** Releases the reference `top` holds on the layers it re-applied (tfjs counts one per application). */
  dispose(): void;
}

function notInTop(entry: number, name: string, message: string): never {
  throw new BackboneError('layer_not_in_top', `unfreeze[${entry}]: ${name} ${message}`, {
    details: { field: `unfreeze[${entry}]`, layer: name },
  });
}

/**
 * Splits a functional backbone model below the layers to unfreeze. They must be the top of the network:
 * every layer with weights above the lowest of them is unfrozen too (BackboneError `layer_not_in_top`
 * otherwise; `unknown_layer` for a name the model lacks; both name the field `unfreeze[i]`). The cut is the
 * highest single tensor below them through which everything flows (residual connections may move it
 * lower; layers between it and the unfrozen ones stay frozen in `top`).
 * @example const { frozen, top } = splitBackbone(vgg.model, expandUnfreeze('vgg16', ['block5']));
 */
export function splitBackbone(model: tf.LayersModel, unfreeze: readonly string[]): BackboneSplit {
  const layers = model.layers;
  const index = new Map(layers.map((l, i) => [l.name, i]));
  if (unfreeze.length === 0) {
    throw new BackboneError('invalid_config', 'unfreeze: empty, expected at least one layer name', {
      details: { field: 'unfreeze' },
    });
  }
  const positions = unfreeze.map((name, entry) => {
    const at = index.get(name);
    if (at === undefined) {
      throw new BackboneError(
        'unknown_layer',
        `unfreeze[${entry}]: layer ${JSON.stringify(name)} is not in the model; its top layers are ` +
          layers
            .slice(-8)
            .map((l) => l.name)
            .join(', '),
        { details: { field: `unfreeze[${entry}]`, layer: name } },
      );
    }
    if ((layers[at] as tf.layers.Layer).weights.length === 0)
      notInTop(entry, name, 'has no weights to train');
    return at;
  });
  const lowest = Math.min(...positions);
  const chosen = new Set(positions);
  const frozenAbove = layers.filter((l, i) => i > lowest && l.weights.length > 0 && !chosen.has(i));
  if (frozenAbove.length > 0) {
    const entry = positions.indexOf(lowest);
    notInTop(
      entry,
      unfreeze[entry] as string,
      `is not in the top part: ${frozenAbove.map((l) => l.name).join(', ')} above it would stay frozen; ` +
        'unfreeze them too or choose a higher layer',
    );
  }
  const cut = cutBelow(layers, lowest);
  if (cut === 0) {
    throw new BackboneError(
      'invalid_config',
      `unfreeze: nothing below ${layers[lowest]?.name} stays frozen; expected a top part of the network`,
      { details: { field: 'unfreeze' } },
    );
  }
  const cutLayer = layers[cut] as tf.layers.Layer;
  const cutOutput = outputOf(cutLayer);
  const cutShape = cutOutput.shape.slice(1);
  if (cutShape.some((d) => d === null)) {
    throw new BackboneError(
      'invalid_config',
      `cut ${cutLayer.name}: shape ${shapeString(cutShape)} is not fixed`,
    );
  }
  const frozen = tf.model({ inputs: model.inputs, outputs: cutOutput, name: `${model.name}_frozen` });
  const topInput = tf.input({ shape: cutShape as number[], name: `${cutLayer.name}_activations` });
  const mapped = new Map<number, tf.SymbolicTensor>([[cutOutput.id, topInput]]);
  for (const layer of layers.slice(cut + 1)) {
    const node = layer.inboundNodes[0];
    if (node === undefined) continue;
    const inputs = node.inputTensors.map((t) => mapped.get(t.id) as tf.SymbolicTensor);
    const out = layer.apply(inputs.length === 1 ? (inputs[0] as tf.SymbolicTensor) : inputs);
    const outs = (Array.isArray(out) ? out : [out]) as tf.SymbolicTensor[];
    for (const [i, t] of node.outputTensors.entries()) mapped.set(t.id, outs[i] as tf.SymbolicTensor);
  }
  const outputs = model.outputs.map((t) => mapped.get(t.id) as tf.SymbolicTensor);
  const top = tf.model({ inputs: topInput, outputs, name: `${model.name}_top` });
  const unfrozen = [...chosen].sort((a, b) => a - b).map((i) => (layers[i] as tf.layers.Layer).name);
  return {
    frozen,
    top,
    cutLayer: cutLayer.name,
    cutShape: cutShape as number[],
    unfrozen,
    dispose: () => {
      top.dispose();
    },
  };
}

function outputOf(layer: tf.layers.Layer): tf.SymbolicTensor {
  const out = layer.inboundNodes[0]?.outputTensors;
  if (out?.length !== 1) {
    throw new BackboneError(
      'invalid_config',
      `layer ${layer.name} has ${out?.length ?? 0} outputs, expected 1`,
    );
  }
  return out[0] as tf.SymbolicTensor;
}

/** The highest layer below `lowest` whose output alone feeds everything above it (0: the input). */
function cutBelow(layers: readonly tf.layers.Layer[], lowest: number): number {
  const index = new Map(layers.map((l, i) => [l, i]));
  // earliest[i]: the lowest layer that any layer from i upwards reads from.
  const earliest = new Array<number>(layers.length + 1).fill(Number.POSITIVE_INFINITY);
  for (let i = layers.length - 1; i >= 0; i--) {
    const reads = (layers[i] as tf.layers.Layer).inboundNodes[0]?.inboundLayers ?? [];
    const low = Math.min(...reads.map((l) => index.get(l) ?? -1));
    earliest[i] = Math.min(earliest[i + 1] as number, low);
  }
  let cut = lowest - 1;
  while (cut > 0 && (earliest[cut + 1] as number) < cut) cut--;
  return Math.max(cut, 0);
}

/**
 * A new model with the same topology and a copy of every weight, so that training it leaves `model` as
 * it was. The caller disposes it.
 */
export async function cloneLayersModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  const topology = model.toJSON(undefined, false) as tf.io.ModelJSON['modelTopology'];
  const copy = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
  copy.setWeights(model.getWeights());
  return copy;
}

/**
 * Runs the frozen part once over RGB images (HxWx3 bytes at its input size) with the backbone's
 * preprocessing; returns the activations row-major, [images.length, ...cutShape], as fine-tuning reads them.
 * With `augment`, of each image's augmented copies instead ([images.length * copies, ...cutShape], as
 * `Backbone.extract` makes them).
 */
export async function frozenActivations(
  frozen: tf.LayersModel,
  given: readonly Uint8Array[],
  options: { preprocessing: Preprocessing; batchSize?: number; augment?: AugmentRequest },
): Promise<Float32Array> {
  const [, h, w] = frozen.inputs[0]?.shape ?? [];
  const outShape = (frozen.outputs[0]?.shape ?? []).slice(1) as number[];
  const pixels = (h as number) * (w as number) * 3;
  for (const [i, img] of given.entries()) {
    if (img.length !== pixels) {
      throw new BackboneError(
        'invalid_input',
        `image ${i}: ${img.length} bytes, expected ${h}x${w}x3 = ${pixels}`,
      );
    }
  }
  const images = augmentedInputs(given, [h as number, w as number], options.augment);
  const len = outShape.reduce((a, b) => a * b, 1);
  const batchSize = options.batchSize ?? 8;
  const out = new Float32Array(images.length * len);
  for (let start = 0; start < images.length; start += batchSize) {
    const batch = images.slice(start, start + batchSize);
    const input = new Float32Array(batch.length * pixels);
    for (const [i, img] of batch.entries()) preprocessInto(img, options.preprocessing, input, i * pixels);
    const y = tf.tidy(
      () => frozen.predict(tf.tensor4d(input, [batch.length, h as number, w as number, 3])) as tf.Tensor,
    );
    try {
      out.set(await y.data(), start * len);
    } finally {
      y.dispose();
    }
  }
  return out;
}
