import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import h5wasm from 'h5wasm';
import { BackboneError } from '../errors.ts';

/** One weight array read from a file, in the layer's own order (kernel, then bias). */
export interface WeightArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Weights per layer name, each list in the order Keras saved them. */
export type LayerWeightMap = Map<string, WeightArray[]>;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the bytes start with the HDF5 signature. */
export function looksLikeHdf5(bytes: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

interface H5Module {
  FS: { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void };
  activate_throwing_error_handler?: () => void;
}

let ready: Promise<H5Module> | undefined;
function h5(): Promise<H5Module> {
  ready ??= (h5wasm.ready as unknown as Promise<H5Module>).then((m) => {
    // Turns HDF5 diagnostics into exceptions instead of stderr noise plus a silent -1 handle.
    m.activate_throwing_error_handler?.();
    return m;
  });
  return ready;
}

function stringList(value: unknown): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, String);
  return undefined;
}

function toFloat32(value: unknown): Float32Array | undefined {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  return undefined;
}

/**
 * Reads a Keras HDF5 weights file (`model.save_weights` legacy .h5, e.g.
 * `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`, or a full `model.save` file via its
 * `model_weights` group). Layout: root attribute `layer_names`; per layer a group with attribute
 * `weight_names`, each naming a dataset under the group (`block1_conv1/kernel:0`, or Keras 1's
 * `block1_conv1_W_1:0`). Order, not name, decides kernel vs bias, exactly as Keras loads it.
 */
export async function readKerasH5(file: string): Promise<LayerWeightMap> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new BackboneError('weights_not_found', `cannot read Keras weights file ${file}`, { cause });
  }
  return parseKerasH5(bytes, file);
}

/** Parses Keras HDF5 weights from bytes; `label` names the source in errors. */
export async function parseKerasH5(bytes: Uint8Array, label: string): Promise<LayerWeightMap> {
  if (!looksLikeHdf5(bytes)) {
    throw new BackboneError(
      'weights_corrupt',
      `${label} is not an HDF5 file (${bytes.length} bytes, no HDF5 signature): expected a Keras .h5 weights file`,
    );
  }
  const m = await h5();
  const memPath = `/edgehead-${randomUUID()}.h5`;
  m.FS.writeFile(memPath, bytes);
  let f: InstanceType<typeof h5wasm.File> | undefined;
  try {
    try {
      f = new h5wasm.File(memPath, 'r');
    } catch (cause) {
      throw new BackboneError(
        'weights_corrupt',
        `${label}: HDF5 file cannot be opened (truncated or damaged)`,
        {
          cause,
        },
      );
    }
    if (f.file_id < 0n) {
      throw new BackboneError(
        'weights_corrupt',
        `${label}: HDF5 file cannot be opened (truncated or damaged)`,
      );
    }
    return readLayers(f, label);
  } finally {
    try {
      f?.close();
    } catch {
      // closing a file that failed to open
    }
    m.FS.unlink(memPath);
  }
}

type H5Group = InstanceType<typeof h5wasm.Group>;

function readLayers(f: InstanceType<typeof h5wasm.File>, label: string): LayerWeightMap {
  let root: H5Group = f;
  try {
    const mw = f.get('model_weights');
    if (mw instanceof h5wasm.Group) root = mw;
  } catch (cause) {
    throw new BackboneError('weights_corrupt', `${label}: HDF5 structure cannot be read`, { cause });
  }
  let layerNames: string[] | undefined;
  try {
    layerNames = stringList(root.attrs.layer_names?.value);
  } catch (cause) {
    throw new BackboneError('weights_corrupt', `${label}: attribute layer_names cannot be read`, { cause });
  }
  if (layerNames === undefined) {
    throw new BackboneError(
      'weights_corrupt',
      `${label} has no layer_names attribute: expected a Keras weights file (model.save_weights .h5)`,
    );
  }
  const out: LayerWeightMap = new Map();
  for (const layer of layerNames) {
    try {
      const g = root.get(layer);
      if (!(g instanceof h5wasm.Group)) {
        throw new BackboneError('weights_corrupt', `${label}: layer ${layer} is listed but has no group`);
      }
      const names = stringList(g.attrs.weight_names?.value) ?? [];
      const weights: WeightArray[] = [];
      for (const name of names) {
        const d = g.get(name);
        if (!(d instanceof h5wasm.Dataset)) {
          throw new BackboneError('weights_corrupt', `${label}: layer ${layer}: dataset ${name} is missing`);
        }
        const data = toFloat32(d.value);
        if (data === undefined) {
          throw new BackboneError(
            'weights_corrupt',
            `${label}: layer ${layer}: dataset ${name} is not float32/64`,
          );
        }
        weights.push({ name, shape: d.shape ?? [], data });
      }
      out.set(layer, weights);
    } catch (cause) {
      if (cause instanceof BackboneError) throw cause;
      throw new BackboneError(
        'weights_corrupt',
        `${label}: layer ${layer} cannot be read (truncated or damaged file)`,
        { cause, details: { layer } },
      );
    }
  }
  return out;
}

/**
 * Writes a Keras-layout HDF5 weights file (same layout `readKerasH5` reads), for tests and for
 * converting weights; returns the file bytes.
 */
export async function writeKerasH5(layers: { name: string; weights: WeightArray[] }[]): Promise<Uint8Array> {
  const m = await h5();
  const memPath = `/edgehead-${randomUUID()}.h5`;
  const f = new h5wasm.File(memPath, 'w');
  try {
    f.create_attribute(
      'layer_names',
      layers.map((l) => l.name),
    );
    f.create_attribute('backend', 'tensorflow');
    f.create_attribute('keras_version', '2.2.4');
    for (const layer of layers) {
      const g = f.create_group(layer.name);
      g.create_attribute(
        'weight_names',
        layer.weights.map((w) => w.name),
      );
      for (const w of layer.weights) {
        const parts = w.name.split('/').slice(0, -1);
        for (let i = 1; i <= parts.length; i++) {
          const sub = parts.slice(0, i).join('/');
          if (g.get(sub) === null) g.create_group(sub);
        }
        g.create_dataset({ name: w.name, data: w.data, shape: w.shape, dtype: '<f' });
      }
    }
  } finally {
    f.close();
  }
  const fs = (m as unknown as { FS: { readFile(p: string): Uint8Array } }).FS;
  const bytes = fs.readFile(memPath);
  m.FS.unlink(memPath);
  return bytes;
}
