import * as tf from '@tensorflow/tfjs';
import { BackboneError, shapeString } from './errors.ts';
import { type FeatureNetwork, measuredShape, resolveInputSize } from './feature-network.ts';
import { loadGraphNetwork } from './graph-network.ts';
import {
  type BackboneConfig,
  BUILTIN_BACKBONES,
  getBackboneSpec,
  isBuiltinBackbone,
} from './models/registry.ts';
import type { BackboneSpec } from './models/spec.ts';
import { assignWeights, decodeNamedWeights, namedLookup } from './weights/assign.ts';
import { readKerasH5 } from './weights/hdf5.ts';
import { type ResolvedWeights, resolveWeights } from './weights/index.ts';
import { kerasLookup } from './weights/keras-order.ts';
import { readLayersModelFolder } from './weights/tfjs-folder.ts';

/** A layers model as a FeatureNetwork; its feature shape is measured when the model leaves it open. */
function layersNetwork(model: tf.LayersModel, inputSize: readonly [number, number]): FeatureNetwork {
  const forward = (x: tf.Tensor4D) => model.predict(x) as tf.Tensor;
  const declared = model.outputs[0]?.shape.slice(1) ?? [null];
  const known = declared.every((d) => d !== null && d >= 0);
  return { model, featureShape: known ? (declared as number[]) : measuredShape(forward, inputSize), forward };
}

async function modelFromFolder(source: string, label: string): Promise<tf.LayersModel> {
  const folder = await readLayersModelFolder(source);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: folder.modelConfig } as tf.io.ModelJSON);
  } catch (cause) {
    throw new BackboneError(
      'weights_corrupt',
      `${label}: model topology in ${folder.modelJsonPath} cannot be built: ${String(cause)}`,
      { cause },
    );
  }
  assignWeights(model, namedLookup(decodeNamedWeights(folder.weightData, folder.weightSpecs)), label);
  return model;
}

/** Loads Keras (either layout, by layer order) or TF.js (by weight name) weights into a topology built in code. */
async function loadCodeWeights(
  model: tf.LayersModel,
  resolved: ResolvedWeights,
  label: string,
): Promise<void> {
  if (resolved.kind === 'keras-h5') {
    assignWeights(model, kerasLookup(model, await readKerasH5(resolved.file), label), label);
  } else {
    const folder = await readLayersModelFolder(resolved.modelJson);
    assignWeights(model, namedLookup(decodeNamedWeights(folder.weightData, folder.weightSpecs)), label);
  }
}

function cut(model: tf.LayersModel, layerName: string, label: string): tf.LayersModel {
  const layer = model.layers.find((l) => l.name === layerName);
  if (layer === undefined) {
    const names = model.layers.map((l) => l.name);
    throw new BackboneError(
      'invalid_config',
      `${label}: feature layer ${layerName} is not in the model; its last layers are ${names.slice(-5).join(', ')}`,
    );
  }
  if (layer === model.layers[model.layers.length - 1] && model.outputs.length === 1) return model;
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}

function requirePreprocessing(config: BackboneConfig): NonNullable<BackboneConfig['preprocessing']> {
  if (config.preprocessing === undefined) {
    throw new BackboneError(
      'invalid_config',
      `user backbone ${config.backbone}: preprocessing is required (rescale, caffe, tf or raw)`,
    );
  }
  return config.preprocessing;
}

/** Refuses options that do not apply to the config's kind of backbone instead of ignoring them. */
function checkOptions(config: BackboneConfig, builtin: boolean): void {
  const misplaced = [
    builtin && config.format === 'graph' && 'format "graph" is for user backbones',
    builtin && config.featureLayer !== undefined && 'featureLayer is for user backbones',
    builtin && config.inputSize !== undefined && 'inputSize is for user models whose input size is open',
    config.featureNode !== undefined &&
      config.format !== 'graph' &&
      'featureNode is for format "graph" (layers models take featureLayer)',
    config.featureLayer !== undefined &&
      config.format === 'graph' &&
      'featureLayer is for layers models (graph models take featureNode)',
  ].find((m) => m !== false);
  if (misplaced) throw new BackboneError('invalid_config', `${config.backbone}: ${misplaced}`);
}

const codeTopologies = () =>
  Object.values(BUILTIN_BACKBONES)
    .filter((s) => s.build !== undefined)
    .map((s) => s.name)
    .join(', ');

/** Builds the network and its spec for a config (weights loaded and checked), without warming it up. */
export async function buildNetwork(
  config: BackboneConfig,
): Promise<{ network: FeatureNetwork; spec: BackboneSpec }> {
  const label = `${config.backbone} weights ${config.weights}`;
  const resolve = () =>
    resolveWeights(config.weights, { sha256: config.sha256, md5: config.md5, cacheDir: config.cacheDir });
  const builtin = isBuiltinBackbone(config.backbone) ? getBackboneSpec(config.backbone) : undefined;
  checkOptions(config, builtin !== undefined);
  if (builtin?.build !== undefined) {
    const random = config.weights === 'random';
    const model = builtin.build({ seed: config.seed, zeros: !random });
    try {
      if (!random) await loadCodeWeights(model, await resolve(), label);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return {
      network: layersNetwork(cut(model, builtin.featureLayer, label), builtin.inputSize),
      spec: builtin,
    };
  }
  if (config.weights === 'random') {
    throw new BackboneError(
      'invalid_config',
      `${config.backbone}: weights "random" needs a topology built in code (${codeTopologies()})`,
    );
  }
  if (config.format === 'graph') {
    const preprocessing = requirePreprocessing(config);
    const network = await loadGraphNetwork(await resolve(), config, label);
    const spec: BackboneSpec = {
      name: config.backbone,
      inputSize: network.inputSize,
      preprocessing,
      preprocessingOptions: [preprocessing],
      featureLayer: network.featureNode,
      featureShape: network.featureShape,
      weights: { note: `user graph model ${config.weights}` },
    };
    return { network, spec };
  }
  const resolved = await resolve();
  if (resolved.kind !== 'tfjs') {
    throw new BackboneError(
      'invalid_config',
      `${label}: a Keras .h5 file needs a topology built in code (${codeTopologies()}); expected a TF.js layers folder`,
    );
  }
  const full = await modelFromFolder(resolved.modelJson, label);
  if (builtin !== undefined) {
    const input = full.inputs[0]?.shape ?? [];
    if (input[1] !== builtin.inputSize[0] || input[2] !== builtin.inputSize[1] || input[3] !== 3) {
      full.dispose();
      throw new BackboneError(
        'weights_shape_mismatch',
        `${label}: model input ${shapeString(input)}, expected [null,${builtin.inputSize.join(',')},3]`,
      );
    }
    return {
      network: layersNetwork(cut(full, builtin.featureLayer, label), builtin.inputSize),
      spec: builtin,
    };
  }
  const preprocessing = requirePreprocessing(config);
  const inputSize = resolveInputSize(full.inputs[0]?.shape, config.inputSize, `${label}: model input`);
  const featureLayer = config.featureLayer ?? full.layers[full.layers.length - 1]?.name ?? '';
  const network = layersNetwork(cut(full, featureLayer, label), inputSize);
  const spec: BackboneSpec = {
    name: config.backbone,
    inputSize,
    preprocessing,
    preprocessingOptions: [preprocessing],
    featureLayer,
    featureShape: network.featureShape,
    weights: { note: `user model ${config.weights}` },
  };
  return { network, spec };
}
