// Keras weight files of the built-in topologies, both layouts, written by the tests themselves with
// seeded random weights (no downloads): a file round trip must give bit-identical features.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../backend.ts';
import { loadBackbone } from '../load.ts';
import { type BuiltinBackboneName, getBackboneSpec } from '../models/registry.ts';
import { preprocess } from '../preprocess.ts';
import {
  expectBackboneError,
  keras2Layers,
  noiseImage,
  randomizeWeights,
  tempDir,
  tinyModel,
  writeKeras3Weights,
} from '../test-fixtures.ts';
import { writeH5, writeKerasH5 } from './hdf5.ts';
import { fileIOHandler, saveLayersModelFolder } from './tfjs-folder.ts';

// Full-size forward passes of 4-6 GMAC on shared cores.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
});
afterAll(() => tmp?.cleanup());

/** Keras 2.0 counted automatic names from 1 (`conv2d_1`) where Keras 3 starts at `conv2d`. */
function keras20Name(name: string): string {
  const m =
    /^(conv2d|batch_normalization|activation|max_pooling2d|average_pooling2d|concatenate)(?:_(\d+))?$/.exec(
      name,
    );
  if (m === null) return name === 'input_layer' ? 'input_1' : name;
  return `${m[1]}_${Number(m[2] ?? 0) + 1}`;
}

/** The features tfjs computes with the source model itself, for one image. */
function sourceFeatures(model: tf.LayersModel, name: BuiltinBackboneName, img: Uint8Array): Float32Array {
  const spec = getBackboneSpec(name);
  return tf.tidy(
    () =>
      (
        model.predict(
          tf.tensor4d(preprocess(img, spec.preprocessing), [1, ...spec.inputSize, 3]),
        ) as tf.Tensor
      ).dataSync() as Float32Array,
  );
}

async function featuresFrom(
  name: BuiltinBackboneName,
  weights: string,
  img: Uint8Array,
): Promise<Float32Array> {
  const b = await loadBackbone({ backbone: name, weights, warmup: false });
  try {
    const [f] = await b.extract([img]);
    return f as Float32Array;
  } finally {
    await b.dispose();
  }
}

const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);

const cases: { name: BuiltinBackboneName; keras2: string; keras3: string }[] = [
  { name: 'resnet50', keras2: 'Keras 2 names', keras3: 'Keras >= 3.6, layer names recorded' },
  { name: 'inception_v3', keras2: 'Keras 2.0 names, conv2d_1..conv2d_94', keras3: 'Keras < 3.6, no names' },
  { name: 'efficientnet_b0', keras2: 'Keras 2 names', keras3: 'Keras >= 3.6, layer names recorded' },
];

describe.each(cases)('$name weight files', ({ name, keras2, keras3 }) => {
  let source: tf.LayersModel;
  let want: Float32Array;
  const img = noiseImage(...getBackboneSpec(name).inputSize, 11);
  const file = (f: string) => path.join(tmp.dir, `${name}${f}`);

  beforeAll(async () => {
    source = getBackboneSpec(name).build?.({ zeros: true }) as tf.LayersModel;
    randomizeWeights(source, 3);
    const rename = name === 'inception_v3' ? keras20Name : undefined;
    await writeFile(file('.h5'), await writeKerasH5(keras2Layers(source, rename)));
    await writeFile(
      file('.weights.h5'),
      await writeKeras3Weights(source, { names: name !== 'inception_v3' }),
    );
    want = sourceFeatures(source, name, img);
  });
  afterAll(() => source?.dispose());

  it(`loads a Keras 2 .h5 (${keras2}) by layer order with bit-identical features`, async () => {
    const got = await featuresFrom(name, file('.h5'), img);
    expect(got.length).toBe(want.length);
    expect(bytes(got).equals(bytes(want))).toBe(true);
    expect(want.some((v) => v !== 0)).toBe(true);
  });

  it(`loads a Keras 3 .weights.h5 (${keras3}) by layer path with bit-identical features`, async () => {
    const got = await featuresFrom(name, file('.weights.h5'), img);
    expect(bytes(got).equals(bytes(want))).toBe(true);
  });
});

describe('efficientnet_b0 other sources: TF.js folders, damaged and foreign files', () => {
  let source: tf.LayersModel;
  const file = (f: string) => path.join(tmp.dir, `effnet-${f}`);
  beforeAll(() => {
    source = getBackboneSpec('efficientnet_b0').build?.({ seed: 4 }) as tf.LayersModel;
  });
  afterAll(() => source?.dispose());
  const load = (weights: string) => loadBackbone({ backbone: 'efficientnet_b0', weights, warmup: false });

  it("saves as a TF.js layers folder that tfjs' own loader rebuilds and loadBackbone loads with the same features", async () => {
    randomizeWeights(source, 12);
    const dir = file('tfjs');
    await saveLayersModelFolder(source, dir);
    const img = noiseImage(224, 224, 5);
    const want = sourceFeatures(source, 'efficientnet_b0', img);
    // Normalization (ours, registered) and the per-channel Rescaling survive tfjs serialization.
    const rebuilt = await tf.loadLayersModel(fileIOHandler(dir));
    expect(bytes(sourceFeatures(rebuilt, 'efficientnet_b0', img)).equals(bytes(want))).toBe(true);
    rebuilt.dispose();
    expect(bytes(await featuresFrom('efficientnet_b0', dir, img)).equals(bytes(want))).toBe(true);
  });

  it('names the layer and both shapes when a Keras 3 weight has the wrong shape', async () => {
    const edit = (layer: string, i: number, shape: number[]) =>
      layer === 'block2a_expand_conv' && i === 0 ? [1, 1, 16, 95] : shape;
    await writeFile(file('shape.weights.h5'), await writeKeras3Weights(source, { edit }));
    await expectBackboneError(
      load(file('shape.weights.h5')),
      'weights_shape_mismatch',
      /layer block2a_expand_conv: kernel shape \[1,1,16,95\], expected \[1,1,16,96\] \(stored as layers\/conv2d_\d+\/vars\/0\)/,
    );
  });

  it('names the path a layer reads when a Keras 3 file lacks its weights', async () => {
    const edit = (layer: string, _i: number, shape: number[]) => (layer === 'top_bn' ? 'drop' : shape);
    await writeFile(file('missing.weights.h5'), await writeKeras3Weights(source, { edit }));
    await expectBackboneError(
      load(file('missing.weights.h5')),
      'weights_missing_layer',
      /layer top_bn reads layers\/batch_normalization_48\/vars, which the file lacks \(expected gamma \[1280\], beta \[1280\], moving_mean \[1280\], moving_variance \[1280\]\)/,
    );
  });

  it('names the layer and both weight lists when a Keras 2 layer has fewer weights', async () => {
    const layers = keras2Layers(source).map((l) =>
      l.name === 'stem_bn' ? { ...l, weights: l.weights.slice(0, 3) } : l,
    );
    await writeFile(file('count.h5'), await writeKerasH5(layers));
    await expectBackboneError(
      load(file('count.h5')),
      'weights_shape_mismatch',
      /layer stem_bn \(stem_bn in the file\): 3 weights \(stem_bn\/stem_bn\/gamma:0 \[32\], .*\), expected 4 \(gamma \[32\], beta \[32\], moving_mean \[32\], moving_variance \[32\]\)/,
    );
  });

  it("refuses another model's file, naming what it holds", async () => {
    const other = tinyModel();
    await writeFile(file('tiny.weights.h5'), await writeKeras3Weights(other));
    await writeFile(file('tiny.h5'), await writeKerasH5(keras2Layers(other)));
    other.dispose();
    await expectBackboneError(
      load(file('tiny.weights.h5')),
      'weights_missing_layer',
      /layer normalization reads layers\/normalization\/vars, which the file lacks .*; the model reads 1 normalization, 65 conv2d, 49 batch_normalization, 16 depthwise_conv2d, the file holds 2 conv2d, 1 dense/,
    );
    await expectBackboneError(
      load(file('tiny.h5')),
      'weights_missing_layer',
      /holds weights for 3 layers, the model has 131 layers with weights .* differ at #0: model normalization \(mean \[3\], variance \[3\], count \[\]\), file conv_a \(\[3,3,3,4\] \[4\]\)/,
    );
  });

  it('refuses a file of the model with a classifier on top (include_top), naming the extra layer', async () => {
    const base = getBackboneSpec('efficientnet_b0').build?.({
      inputSize: [64, 64],
      zeros: true,
    }) as tf.LayersModel;
    const gap = tf.layers
      .globalAveragePooling2d({ name: 'avg_pool' })
      .apply(base.outputs[0] as tf.SymbolicTensor);
    const top = tf.layers.dense({ name: 'predictions', units: 3 }).apply(gap) as tf.SymbolicTensor;
    const full = tf.model({ inputs: base.inputs, outputs: top });
    await writeFile(file('top.weights.h5'), await writeKeras3Weights(full));
    full.dispose();
    await expectBackboneError(
      load(file('top.weights.h5')),
      'weights_missing_layer',
      /the file holds weights the model has no layer for: layers\/dense \(predictions\) \(it is another model's file\)/,
    );
  });

  it('reads the Keras 2.13 layout (_layer_checkpoint_dependencies) too', async () => {
    randomizeWeights(source, 9);
    await writeFile(
      file('k213.weights.h5'),
      await writeKeras3Weights(source, { layersGroup: '_layer_checkpoint_dependencies' }),
    );
    const b = await load(file('k213.weights.h5'));
    const got = (b.model as tf.LayersModel).getLayer('block7a_project_conv').getWeights()[0]?.dataSync();
    expect(got).toEqual(source.getLayer('block7a_project_conv').getWeights()[0]?.dataSync());
    await b.dispose();
  });

  it('reads the weights inside a Keras 3 .keras archive and names what a zip without them holds', async () => {
    randomizeWeights(source, 10);
    const text = (v: object) => new TextEncoder().encode(JSON.stringify(v));
    const archive = zipSync(
      {
        'metadata.json': text({ keras_version: '3.10.0' }),
        'config.json': text({ class_name: 'Functional' }),
        'model.weights.h5': await writeKeras3Weights(source),
      },
      { level: 0 },
    );
    await writeFile(file('model.keras'), archive);
    const b = await load(file('model.keras'));
    const got = (b.model as tf.LayersModel).getLayer('stem_conv').getWeights()[0]?.dataSync();
    expect(got).toEqual(source.getLayer('stem_conv').getWeights()[0]?.dataSync());
    await b.dispose();
    await writeFile(file('other.keras'), zipSync({ 'config.json': text({}) }));
    await expectBackboneError(
      load(file('other.keras')),
      'weights_corrupt',
      /is a zip archive without model\.weights\.h5 \(entries: config\.json\): expected a Keras 3 \.keras file/,
    );
  });

  it('says what an HDF5 file that is neither Keras layout holds', async () => {
    const bytes = await writeH5((f) => {
      f.create_attribute('note', 'not keras');
      f.create_group('images').create_dataset({
        name: 'x',
        data: new Float32Array([1, 2]),
        shape: [2],
        dtype: '<f',
      });
    });
    await writeFile(file('other.h5'), bytes);
    await expectBackboneError(
      load(file('other.h5')),
      'weights_corrupt',
      /is an HDF5 file but not Keras weights \(root groups: images; root attributes: note\): expected a Keras 2 \.h5 \(root attribute layer_names\) or a Keras 3 \.weights\.h5 \(root group layers\)/,
    );
  });
});
