import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import h5wasm from 'h5wasm';
import { BackboneError } from '../errors.ts';
import { kerasArchiveWeights, looksLikeZip } from './keras-archive.ts';

/** One weight array read from a file, in the layer's own order (kernel, then bias). */
export interface WeightArray {
  /** Its HDF5 path: `conv1/conv1/kernel:0` (Keras 2: layer group, weight name) or `layers/conv2d/vars/0` (Keras 3). */
  name: string;
  shape: number[];
  data: Float32Array;
}

/** One layer's weights as a Keras file stores them. */
export interface StoredLayer {
  /** The layer's key in the file: its name (Keras 2) or its path (`layers/conv2d_3`, Keras 3). */
  key: string;
  /** The layer's name when the file records one (Keras 2 always, Keras 3 since 3.6). */
  name: string | undefined;
  weights: WeightArray[];
}

/**
 * A Keras weights file, by layout. `keras2`: `model.save_weights('x.h5')` of Keras 1/2 (and Keras 3's
 * legacy `.h5`), layers in the file's `layer_names` order. `keras3`: `model.save_weights('x.weights.h5')`
 * of Keras 3, layers keyed by path (`layers/<snake class name>[_k]`, numbered in the model's layer order).
 */
export type KerasWeights =
  | { layout: 'keras2'; layers: StoredLayer[] }
  | { layout: 'keras3'; layers: Map<string, StoredLayer> };

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the bytes start with the HDF5 signature. */
export function looksLikeHdf5(bytes: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

interface H5Module {
  FS: {
    writeFile(path: string, data: Uint8Array): void;
    readFile(path: string): Uint8Array;
    unlink(path: string): void;
  };
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

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = InstanceType<typeof h5wasm.Group>;

function stringList(value: unknown): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, String);
  return undefined;
}

/**
 * A string-list attribute as Keras writes it: whole, or split into `name0`, `name1`... when it exceeds
 * HDF5's 64 KiB object-header limit (`legacy_h5_format.save_attributes_to_hdf5_group`).
 */
function attributeList(group: H5Group, name: string): string[] | undefined {
  const attrs = group.attrs;
  if (name in attrs) return stringList(attrs[name]?.value);
  const chunks: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++)
    chunks.push(...(stringList(attrs[`${name}${i}`]?.value) ?? []));
  return `${name}0` in attrs ? chunks : undefined;
}

function toFloat32(value: unknown): Float32Array | undefined {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array || value instanceof Int32Array || value instanceof Uint8Array) {
    return Float32Array.from(value);
  }
  // Keras stores Normalization's `count` as an int64 scalar.
  if (value instanceof BigInt64Array) return Float32Array.from(value, Number);
  if (typeof value === 'bigint' || typeof value === 'number') return Float32Array.of(Number(value));
  return undefined;
}

function readDataset(
  group: H5Group,
  name: string,
  where: string,
  label: string,
  stored: string,
): WeightArray {
  const d = group.get(name);
  if (!(d instanceof h5wasm.Dataset)) {
    throw new BackboneError('weights_corrupt', `${label}: ${where}: dataset ${name} is missing`);
  }
  const data = toFloat32(d.value);
  if (data === undefined) {
    throw new BackboneError(
      'weights_corrupt',
      `${label}: ${where}: dataset ${name} has dtype ${String(d.dtype)}, expected float32/64 or an integer`,
    );
  }
  return { name: stored, shape: d.shape ?? [], data };
}

/** Turns unexpected h5wasm failures while reading one layer into `weights_corrupt` naming it. */
function guarded<T>(where: string, label: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (cause instanceof BackboneError) throw cause;
    throw new BackboneError(
      'weights_corrupt',
      `${label}: ${where} cannot be read (truncated or damaged file)`,
      { cause, details: { layer: where } },
    );
  }
}

function readKeras2(root: H5Group, layerNames: string[], label: string): KerasWeights {
  const layers = layerNames.map((layer) =>
    guarded(`layer ${layer}`, label, () => {
      const g = root.get(layer);
      if (!(g instanceof h5wasm.Group)) {
        throw new BackboneError('weights_corrupt', `${label}: layer ${layer} is listed but has no group`);
      }
      const names = attributeList(g, 'weight_names') ?? [];
      const weights = names.map((name) => readDataset(g, name, `layer ${layer}`, label, `${layer}/${name}`));
      return { key: layer, name: layer, weights };
    }),
  );
  return { layout: 'keras2', layers };
}

function readKeras3(layersGroup: H5Group, label: string): KerasWeights {
  const layers = new Map<string, StoredLayer>();
  for (const key of layersGroup.keys()) {
    // Keyed as Keras 3 names them, whichever group holds them (see readLayout).
    const path = `layers/${key}`;
    const stored = guarded(path, label, (): StoredLayer | undefined => {
      const g = layersGroup.get(key);
      const vars = g instanceof h5wasm.Group ? g.get('vars') : null;
      if (!(vars instanceof h5wasm.Group)) return undefined;
      const name = stringList(vars.attrs.name?.value)?.[0];
      const count = vars.keys().length;
      const weights = Array.from({ length: count }, (_, i) =>
        readDataset(vars, String(i), path, label, `${path}/vars/${i}`),
      );
      return { key: path, name, weights };
    });
    if (stored !== undefined) layers.set(path, stored);
  }
  return { layout: 'keras3', layers };
}

function describeRoot(root: H5Group): string {
  const groups = root.keys();
  const attrs = Object.keys(root.attrs);
  const list = (xs: string[]) => (xs.length === 0 ? 'none' : xs.slice(0, 8).join(', '));
  return `root groups: ${list(groups)}; root attributes: ${list(attrs)}`;
}

function readLayout(f: H5File, label: string): KerasWeights {
  return guarded('the HDF5 structure', label, () => {
    // A whole-model `model.save('x.h5')` keeps the weights under model_weights.
    const mw = f.get('model_weights');
    const root: H5Group = mw instanceof h5wasm.Group ? mw : f;
    const layerNames = attributeList(root, 'layer_names');
    if (layerNames !== undefined) return readKeras2(root, layerNames, label);
    // Keras 2.13 wrote the Keras 3 layout under `_layer_checkpoint_dependencies`.
    for (const name of ['layers', '_layer_checkpoint_dependencies']) {
      const g = f.get(name);
      if (g instanceof h5wasm.Group) return readKeras3(g, label);
    }
    throw new BackboneError(
      'weights_corrupt',
      `${label} is an HDF5 file but not Keras weights (${describeRoot(f)}): expected a Keras 2 .h5 ` +
        '(root attribute layer_names) or a Keras 3 .weights.h5 (root group layers)',
      { details: { groups: f.keys(), attributes: Object.keys(f.attrs) } },
    );
  });
}

/**
 * Reads a Keras HDF5 weights file in either layout (see `KerasWeights`): Keras 2 `model.save_weights`
 * .h5 files (e.g. `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`, Keras 1 names such as
 * `block1_conv1_W_1:0` included), whole-model `model.save('x.h5')` files, Keras 3 `.weights.h5`, and the
 * weights inside a Keras 3 `.keras` archive.
 */
export async function readKerasH5(file: string): Promise<KerasWeights> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new BackboneError('weights_not_found', `cannot read Keras weights file ${file}`, { cause });
  }
  return parseKerasH5(looksLikeZip(bytes) ? kerasArchiveWeights(bytes, file) : bytes, file);
}

/** Runs `use` on an HDF5 file opened from bytes in h5wasm's memory file system. */
async function withH5File<T>(bytes: Uint8Array, label: string, use: (f: H5File) => T): Promise<T> {
  const m = await h5();
  const memPath = `/edgehead-${randomUUID()}.h5`;
  m.FS.writeFile(memPath, bytes);
  let f: H5File | undefined;
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
    return use(f);
  } finally {
    try {
      f?.close();
    } catch {
      // closing a file that failed to open
    }
    m.FS.unlink(memPath);
  }
}

/** Parses Keras HDF5 weights from bytes; `label` names the source in errors. */
export async function parseKerasH5(bytes: Uint8Array, label: string): Promise<KerasWeights> {
  if (!looksLikeHdf5(bytes)) {
    throw new BackboneError(
      'weights_corrupt',
      `${label} is not an HDF5 file (${bytes.length} bytes, no HDF5 signature): expected a Keras .h5 weights file`,
    );
  }
  return withH5File(bytes, label, (f) => readLayout(f, label));
}

/** Writes a new HDF5 file with `fill` and returns its bytes (the writers of both Keras layouts use it). */
export async function writeH5(fill: (f: H5File) => void): Promise<Uint8Array> {
  const m = await h5();
  const memPath = `/edgehead-${randomUUID()}.h5`;
  const f = new h5wasm.File(memPath, 'w');
  try {
    fill(f);
  } finally {
    f.close();
  }
  const bytes = m.FS.readFile(memPath);
  m.FS.unlink(memPath);
  return bytes;
}

/**
 * Writes a Keras 2 layout HDF5 weights file (`layer_names`, per-layer `weight_names`), as
 * `model.save_weights('x.h5')` does; for tests and for converting weights. Returns the file bytes.
 */
export async function writeKerasH5(layers: { name: string; weights: WeightArray[] }[]): Promise<Uint8Array> {
  return writeH5((f) => {
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
  });
}
