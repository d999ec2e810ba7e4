import * as tf from '@tensorflow/tfjs';
import { BackboneError } from './errors.ts';
import { type FeatureNetwork, measuredShape, resolveInputSize } from './feature-network.ts';
import type { BackboneConfig } from './models/registry.ts';
import type { ResolvedWeights } from './weights/index.ts';
import { GRAPH_MODEL_FORMAT, graphArtifacts, readTfjsModelFolder } from './weights/tfjs-folder.ts';

/** A TF.js graph model cut at its feature node. */
export interface GraphNetwork extends FeatureNetwork {
  model: tf.GraphModel;
  /** The node whose output is the feature (`featureNode`, default the model's first output). */
  featureNode: string;
  /** [height, width] the model takes (from its input, or the config's `inputSize` where it is open). */
  inputSize: [number, number];
}

function nodeNames(topology: Record<string, unknown>): string[] {
  const nodes = Array.isArray(topology.node) ? (topology.node as { name?: unknown }[]) : [];
  return nodes.flatMap((n) => (typeof n.name === 'string' ? [n.name] : []));
}

/**
 * Loads a TF.js graph model (`tensorflowjs_converter --input_format=tf_saved_model|tf_hub` output:
 * model.json with a GraphDef + weight shards) through the project's own file reader, and cuts it at
 * `config.featureNode`. The input must be one float32 [batch, h, w, 3] image tensor.
 */
export async function loadGraphNetwork(
  resolved: ResolvedWeights,
  config: Pick<BackboneConfig, 'featureNode' | 'inputSize'>,
  label: string,
): Promise<GraphNetwork> {
  if (resolved.kind !== 'tfjs') {
    throw new BackboneError(
      'invalid_config',
      `${label}: format "graph" needs a TF.js graph model folder or model.json`,
    );
  }
  const folder = await readTfjsModelFolder(resolved.modelJson);
  if (folder.json.format !== GRAPH_MODEL_FORMAT) {
    throw new BackboneError(
      'invalid_config',
      `${folder.modelJsonPath} has format ${JSON.stringify(folder.json.format ?? 'layers-model (legacy)')}, ` +
        `expected "${GRAPH_MODEL_FORMAT}" for format "graph": leave format out to load a layers model`,
    );
  }
  let model: tf.GraphModel;
  try {
    model = await tf.loadGraphModel({ load: async () => graphArtifacts(folder) });
  } catch (cause) {
    throw new BackboneError(
      'weights_corrupt',
      `${label}: graph model ${folder.modelJsonPath} cannot be loaded: ${String(cause)}`,
      { cause },
    );
  }
  try {
    return cutGraph(model, nodeNames(folder.json.modelTopology), config, label);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function cutGraph(
  model: tf.GraphModel,
  nodes: string[],
  config: Pick<BackboneConfig, 'featureNode' | 'inputSize'>,
  label: string,
): GraphNetwork {
  const [input, ...more] = model.inputs;
  if (input === undefined || more.length > 0) {
    throw new BackboneError(
      'invalid_config',
      `${label}: the graph model has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}), ` +
        'expected one image input',
    );
  }
  if (input.dtype !== undefined && input.dtype !== 'float32') {
    throw new BackboneError(
      'invalid_config',
      `${label}: input ${input.name} is ${input.dtype}, expected float32`,
    );
  }
  const inputSize = resolveInputSize(input.shape, config.inputSize, `${label}: graph input ${input.name}`);
  const featureNode = config.featureNode ?? model.outputNodes[0] ?? '';
  if (!nodes.includes(featureNode.replace(/:\d+$/, ''))) {
    throw new BackboneError(
      'invalid_config',
      `${label}: feature node ${JSON.stringify(featureNode)} is not in the graph; its last nodes are ` +
        `${nodes.slice(-5).join(', ')}`,
      { details: { featureNode } },
    );
  }
  const forward = (x: tf.Tensor4D) => model.execute({ [input.name]: x }, featureNode) as tf.Tensor;
  let featureShape: number[];
  try {
    featureShape = measuredShape(forward, inputSize);
  } catch (cause) {
    throw new BackboneError(
      'invalid_config',
      `${label}: the graph cannot run synchronously up to ${featureNode} (${String(cause)}); ` +
        'models with dynamic control flow are not supported',
      { cause },
    );
  }
  return { model, featureNode, inputSize, featureShape, forward };
}
