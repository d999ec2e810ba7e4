import { z } from 'zod';
import { HeadError } from './errors.ts';

/** A weight entry of a TF.js `weightsManifest` group. */
export const weightSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
});
export type WeightSpec = z.infer<typeof weightSpec>;

const layerJson = z.object({
  class_name: z.string(),
  name: z.string().optional(),
  config: z.record(z.string(), z.unknown()),
  inbound_nodes: z.array(z.unknown()).optional(),
});
type LayerJson = z.infer<typeof layerJson>;

/** TF.js layers-format `model.json` (the parts the head reader needs). */
export const modelJson = z.object({
  format: z.string().optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: z.object({
    class_name: z.string(),
    config: z.object({
      name: z.string().optional(),
      layers: z.array(layerJson).min(1),
      input_layers: z.array(z.unknown()).optional(),
      output_layers: z.array(z.unknown()).optional(),
    }),
  }),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(weightSpec) })).length(1),
});
export type ModelJson = z.infer<typeof modelJson>;

/** Activations the runtime implements. */
export const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'softmax', 'tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** One step of a compiled head: shapes exclude the batch dimension. */
export type LayerPlan =
  | {
      kind: 'dense';
      name: string;
      nIn: number;
      nOut: number;
      activation: Activation;
      kernel: string;
      bias: string | null;
    }
  | { kind: 'activation'; name: string; width: number; activation: Activation }
  | { kind: 'gap2d'; name: string; height: number; width: number; channels: number }
  | { kind: 'reshape'; name: string; width: number };

/** Layer chain of a head with inferred shapes. */
export interface TopologyPlan {
  inputShape: number[];
  outputSize: number;
  layers: LayerPlan[];
}

const IDENTITY_LAYERS = new Set([
  'Dropout',
  'InputLayer',
  'SpatialDropout1D',
  'GaussianDropout',
  'GaussianNoise',
]);

function layerName(layer: LayerJson): string {
  const fromConfig = layer.config.name;
  return layer.name ?? (typeof fromConfig === 'string' ? fromConfig : layer.class_name);
}

function batchInputShape(layer: LayerJson): number[] | null {
  const raw = layer.config.batch_input_shape ?? layer.config.batch_shape;
  if (!Array.isArray(raw)) return null;
  const dims = raw.slice(1);
  if (!dims.every((d): d is number => Number.isInteger(d) && (d as number) > 0)) {
    throw new HeadError(
      'bad_topology',
      `layer ${layerName(layer)}: input shape ${JSON.stringify(raw)} must be fully defined`,
      {
        layer: layerName(layer),
        actual: raw,
      },
    );
  }
  return dims;
}

function inboundNames(layer: LayerJson): string[] {
  const nodes = layer.inbound_nodes ?? [];
  const names: string[] = [];
  for (const node of nodes) {
    if (!Array.isArray(node)) continue;
    for (const ref of node) if (Array.isArray(ref) && typeof ref[0] === 'string') names.push(ref[0]);
  }
  return names;
}

/** Orders a functional model's layers into a chain from input to output; refuses branches and merges. */
function functionalChain(layers: LayerJson[]): LayerJson[] {
  const byName = new Map(layers.map((l) => [layerName(l), l]));
  const consumers = new Map<string, number>();
  for (const l of layers) for (const n of inboundNames(l)) consumers.set(n, (consumers.get(n) ?? 0) + 1);
  const outputs = layers.filter((l) => !consumers.has(layerName(l)));
  if (outputs.length !== 1 || !outputs[0]) {
    throw new HeadError(
      'unsupported_layer',
      `functional model has ${outputs.length} output layers, expected a simple chain with 1`,
      {
        outputs: outputs.map(layerName),
      },
    );
  }
  const chain: LayerJson[] = [];
  let current: LayerJson | undefined = outputs[0];
  while (current) {
    chain.push(current);
    const inbound = inboundNames(current);
    if (inbound.length > 1) {
      throw new HeadError(
        'unsupported_layer',
        `layer ${layerName(current)} has ${inbound.length} inputs, expected 1 (simple chains only)`,
        {
          layer: layerName(current),
          inbound,
        },
      );
    }
    const prev: string | undefined = inbound[0];
    if (prev === undefined) break;
    current = byName.get(prev);
    if (!current)
      throw new HeadError(
        'bad_topology',
        `layer ${layerName(chain.at(-1) as LayerJson)} refers to unknown layer ${prev}`,
      );
  }
  if (chain.length !== layers.length) {
    throw new HeadError(
      'unsupported_layer',
      `functional model has ${layers.length} layers but a chain of ${chain.length}, expected a simple chain`,
    );
  }
  return chain.reverse();
}

function parseActivation(layer: LayerJson, value: unknown): Activation {
  const act = value ?? 'linear';
  if (typeof act === 'string' && (ACTIVATIONS as readonly string[]).includes(act)) return act as Activation;
  throw new HeadError(
    'unsupported_layer',
    `layer ${layerName(layer)}: activation ${JSON.stringify(act)}, expected one of ${ACTIVATIONS.join(', ')}`,
    {
      layer: layerName(layer),
      actual: act,
    },
  );
}

const shapeStr = (s: readonly number[]) => `[${s.join(',')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Turns model.json into a layer plan, checking that every weight's shape agrees with its layer.
 * Weights are matched by `<layer name>/kernel` and `<layer name>/bias`; any weight left over is an error.
 */
export function planTopology(json: ModelJson): TopologyPlan {
  const topology = json.modelTopology;
  const { class_name: kind } = topology;
  let layers = topology.config.layers;
  if (kind === 'Model' || kind === 'Functional') layers = functionalChain(layers);
  else if (kind !== 'Sequential') {
    throw new HeadError(
      'bad_topology',
      `model.json: modelTopology.class_name ${JSON.stringify(kind)}, expected Sequential, Model or Functional`,
    );
  }
  const specs = new Map<string, WeightSpec>();
  for (const spec of json.weightsManifest[0]?.weights ?? []) {
    if (spec.dtype !== 'float32') {
      throw new HeadError('bad_topology', `weight ${spec.name}: dtype ${spec.dtype}, expected float32`, {
        weight: spec.name,
        actual: spec.dtype,
      });
    }
    specs.set(spec.name.replace(/:0$/, ''), spec);
  }
  const used = new Set<string>();
  const takeWeight = (layer: LayerJson, suffix: string, expected: number[]): string => {
    const key = `${layerName(layer)}/${suffix}`;
    const spec = specs.get(key);
    if (!spec)
      throw new HeadError(
        'shape_mismatch',
        `layer ${layerName(layer)}: weight ${key} is missing from weightsManifest`,
        { layer: layerName(layer), weight: key },
      );
    if (!sameShape(spec.shape, expected)) {
      throw new HeadError(
        'shape_mismatch',
        `layer ${layerName(layer)}: ${suffix} shape ${shapeStr(spec.shape)}, expected ${shapeStr(expected)}`,
        {
          layer: layerName(layer),
          weight: spec.name,
          expected,
          actual: spec.shape,
        },
      );
    }
    used.add(key);
    return spec.name;
  };

  const first = layers[0] as LayerJson;
  const inputShape = batchInputShape(first);
  if (!inputShape)
    throw new HeadError(
      'bad_topology',
      `layer ${layerName(first)}: no batch_input_shape, cannot tell the head's input shape`,
    );
  let shape = inputShape;
  const plan: LayerPlan[] = [];
  for (const layer of layers) {
    const name = layerName(layer);
    const cls = layer.class_name;
    if (IDENTITY_LAYERS.has(cls)) continue;
    const width = shape.reduce((a, b) => a * b, 1);
    if (cls === 'Flatten') {
      shape = [width];
      plan.push({ kind: 'reshape', name, width });
    } else if (cls === 'GlobalAveragePooling2D') {
      const format = layer.config.data_format ?? 'channels_last';
      if (shape.length !== 3 || format !== 'channels_last') {
        throw new HeadError(
          'shape_mismatch',
          `layer ${name}: input ${shapeStr(shape)} (${String(format)}), expected rank 3 channels_last`,
          {
            layer: name,
            actual: shape,
          },
        );
      }
      const [height, w, channels] = shape as [number, number, number];
      plan.push({ kind: 'gap2d', name, height, width: w, channels });
      shape = [channels];
    } else if (cls === 'Dense') {
      if (shape.length !== 1) {
        throw new HeadError(
          'shape_mismatch',
          `layer ${name}: Dense on input ${shapeStr(shape)}, expected a rank-1 input (add Flatten or pooling)`,
          {
            layer: name,
            actual: shape,
          },
        );
      }
      const units = layer.config.units;
      if (!Number.isInteger(units) || (units as number) <= 0)
        throw new HeadError(
          'bad_topology',
          `layer ${name}: units ${String(units)}, expected a positive integer`,
        );
      const nOut = units as number;
      const kernel = takeWeight(layer, 'kernel', [width, nOut]);
      const bias = layer.config.use_bias === false ? null : takeWeight(layer, 'bias', [nOut]);
      plan.push({
        kind: 'dense',
        name,
        nIn: width,
        nOut,
        activation: parseActivation(layer, layer.config.activation),
        kernel,
        bias,
      });
      shape = [nOut];
    } else if (cls === 'Activation') {
      plan.push({
        kind: 'activation',
        name,
        width,
        activation: parseActivation(layer, layer.config.activation),
      });
    } else {
      throw new HeadError(
        'unsupported_layer',
        `layer ${name}: class ${cls} is not supported by the head runtime`,
        { layer: name, actual: cls },
      );
    }
  }
  const leftover = [...specs.keys()].filter((k) => !used.has(k));
  if (leftover.length > 0)
    throw new HeadError('shape_mismatch', `weights ${leftover.join(', ')} belong to no supported layer`, {
      weights: leftover,
    });
  if (shape.length !== 1)
    throw new HeadError('shape_mismatch', `head output ${shapeStr(shape)}, expected a rank-1 output`, {
      actual: shape,
    });
  return { inputShape, outputSize: shape[0] as number, layers: plan };
}
