// A tiny TF.js graph model written by the test itself: model.json holding a GraphDef in the converter's
// JSON form (image -> Conv2D -> BiasAdd -> Relu -> Mean -> Identity) plus its weight shard.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { loadBackbone } from './load.ts';
import { createExtractorPool } from './pool.ts';
import { preprocess } from './preprocess.ts';
import { expectBackboneError, noiseImage, tempDir, tinyModel } from './test-fixtures.ts';
import { weightsSha256 } from './weights/identity.ts';
import { saveLayersModelFolder } from './weights/tfjs-folder.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const float = { type: 'DT_FLOAT' };
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const constNode = (name: string, shape: number[], dtype: 'DT_FLOAT' | 'DT_INT32') => ({
  name,
  op: 'Const',
  attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims(shape) } } },
});

const KERNEL = Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.sin(i * 0.7) * 0.3);
const BIAS = Float32Array.of(0.1, -0.2, 0.05, 0);

/** model.json + weight shard of the tiny graph; `inputShape` [-1, h, w, 3] (-1 where open). */
function tinyGraph(inputShape: number[]): { json: Record<string, unknown>; bin: Uint8Array } {
  const node = [
    { name: 'image', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(inputShape) } } },
    constNode('conv/kernel', [3, 3, 3, 4], 'DT_FLOAT'),
    constNode('conv/bias', [4], 'DT_FLOAT'),
    constNode('pool/axes', [2], 'DT_INT32'),
    {
      name: 'conv',
      op: 'Conv2D',
      input: ['image', 'conv/kernel'],
      attr: {
        T: float,
        strides: { list: { i: ['1', '1', '1', '1'] } },
        dilations: { list: { i: ['1', '1', '1', '1'] } },
        padding: { s: b64('SAME') },
        data_format: { s: b64('NHWC') },
        explicit_paddings: { list: {} },
      },
    },
    {
      name: 'bias_add',
      op: 'BiasAdd',
      input: ['conv', 'conv/bias'],
      attr: { T: float, data_format: { s: b64('NHWC') } },
    },
    { name: 'relu', op: 'Relu', input: ['bias_add'], attr: { T: float } },
    {
      name: 'pool',
      op: 'Mean',
      input: ['relu', 'pool/axes'],
      attr: { T: float, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } },
    },
    { name: 'Identity', op: 'Identity', input: ['pool'], attr: { T: float } },
  ];
  const axes = Int32Array.of(1, 2);
  const bin = Buffer.concat(
    [KERNEL, BIAS, axes].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)),
  );
  const json = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'conv/kernel', shape: [3, 3, 3, 4], dtype: 'float32' },
          { name: 'conv/bias', shape: [4], dtype: 'float32' },
          { name: 'pool/axes', shape: [2], dtype: 'int32' },
        ],
      },
    ],
  };
  return { json, bin: new Uint8Array(bin) };
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let fixed: string;
let open: string;

async function writeGraph(dir: string, inputShape: number[]): Promise<void> {
  const { json, bin } = tinyGraph(inputShape);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), bin);
}

beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
  fixed = path.join(tmp.dir, 'graph');
  open = path.join(tmp.dir, 'graph-open');
  await writeGraph(fixed, [-1, 8, 8, 3]);
  await writeGraph(open, [-1, -1, -1, 3]);
});
afterAll(() => tmp?.cleanup());

const config = (extra: object = {}) => ({
  backbone: 'tiny-graph',
  weights: fixed,
  format: 'graph' as const,
  featureNode: 'relu',
  preprocessing: 'tf' as const,
  warmup: false,
  ...extra,
});

describe('TF.js graph model as a user backbone', () => {
  it("gives the feature node's output exactly as tfjs' own GraphModel.execute() does", async () => {
    const b = await loadBackbone(config());
    const imgs = [noiseImage(8, 8, 1), noiseImage(8, 8, 2)];
    const got = await b.extract(imgs);
    expect(b.info).toMatchObject({
      name: 'tiny-graph',
      inputSize: [8, 8],
      featureLayer: 'relu',
      featureShape: [8, 8, 4],
      featureSet: {
        backbone: 'tiny-graph',
        pooling: 'none',
        inputSize: [8, 8],
        featureLayer: 'relu',
        featureShape: [8, 8, 4],
      },
    });
    expect(b.info.featureSet.weights.sha256).toBe(weightsSha256(b.model));
    const { json, bin } = tinyGraph([-1, 8, 8, 3]);
    const reference = await tf.loadGraphModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: (json.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[])[0]?.weights ?? [],
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
        format: 'graph-model',
      }),
    );
    for (const [i, img] of imgs.entries()) {
      const x = tf.tensor4d(preprocess(img, 'tf'), [1, 8, 8, 3]);
      const want = (reference.execute(x, 'relu') as tf.Tensor).dataSync();
      expect(Array.from(got[i] as Float32Array)).toEqual(Array.from(want));
      // ...and it is what the GraphDef says: relu(conv2d(x, kernel, 'same') + bias).
      const direct = tf.tidy(() =>
        tf.relu(tf.add(tf.conv2d(x, tf.tensor4d(KERNEL, [3, 3, 3, 4]), 1, 'same'), BIAS)).dataSync(),
      );
      expect(Array.from(got[i] as Float32Array)).toEqual(Array.from(direct).map((v) => expect.closeTo(v, 5)));
      x.dispose();
    }
    reference.dispose();
    await b.dispose();
  });

  it('defaults to the model output, pools only [h, w, c] maps, and runs in a worker pool', async () => {
    const out = await loadBackbone(config({ featureNode: undefined }));
    expect(out.info).toMatchObject({ featureLayer: 'Identity', featureShape: [4] });
    await out.dispose();
    await expectBackboneError(
      loadBackbone(config({ featureNode: undefined, pooling: 'avg' })),
      'invalid_config',
      /pooling avg needs an \[h,w,c\] feature map, Identity gives \[4\]/,
    );
    const single = await loadBackbone(config({ pooling: 'avg' }));
    const pool = await createExtractorPool(config({ pooling: 'avg' }), { size: 2 });
    try {
      expect(pool.info).toEqual(single.info);
      expect(pool.info.featureSet).toMatchObject({
        backbone: 'tiny-graph',
        pooling: 'avg',
        featureShape: [4],
      });
      const imgs = [1, 2, 3].map((s) => noiseImage(8, 8, s));
      expect(await pool.extract(imgs)).toEqual(await single.extract(imgs));
    } finally {
      await pool.dispose();
      await single.dispose();
    }
  }, 90_000);

  it('takes inputSize where the model leaves the image size open, and asks for it otherwise', async () => {
    await expectBackboneError(
      loadBackbone(config({ weights: open })),
      'invalid_config',
      /graph input image \[-1,-1,-1,3\] leaves the image size open: set inputSize \[height, width\]/,
    );
    const b = await loadBackbone(config({ weights: open, inputSize: [6, 5] }));
    expect(b.info).toMatchObject({ inputSize: [6, 5], featureShape: [6, 5, 4] });
    expect((await b.extract([noiseImage(6, 5, 1)]))[0]).toHaveLength(6 * 5 * 4);
    await b.dispose();
    await expectBackboneError(
      loadBackbone(config({ inputSize: [6, 6] })),
      'invalid_config',
      /inputSize 6x6 contradicts .*image \[-1,8,8,3\]/,
    );
  });

  it('refuses options that do not apply instead of ignoring them', async () => {
    await expectBackboneError(
      loadBackbone(config({ format: 'layers' })),
      'invalid_config',
      /featureNode is for format "graph" \(layers models take featureLayer\)/,
    );
    await expectBackboneError(
      loadBackbone(config({ featureLayer: 'relu' })),
      'invalid_config',
      /featureLayer is for layers models \(graph models take featureNode\)/,
    );
    await expectBackboneError(
      loadBackbone({ backbone: 'resnet50', weights: fixed, format: 'graph' }),
      'invalid_config',
      /resnet50: format "graph" is for user backbones/,
    );
    await expectBackboneError(
      loadBackbone({ backbone: 'resnet50', weights: 'random', inputSize: [160, 160] }),
      'invalid_config',
      /resnet50: inputSize is for user models whose input size is open/,
    );
  });

  it('names a feature node the graph lacks, and a folder of the other kind', async () => {
    await expectBackboneError(
      loadBackbone(config({ featureNode: 'conv5' })),
      'invalid_config',
      /feature node "conv5" is not in the graph; its last nodes are conv, bias_add, relu, pool, Identity/,
    );
    const layers = path.join(tmp.dir, 'layers');
    const m = tinyModel();
    await saveLayersModelFolder(m, layers);
    m.dispose();
    await expectBackboneError(
      loadBackbone(config({ weights: layers })),
      'invalid_config',
      /has format "layers-model", expected "graph-model" for format "graph"/,
    );
    await expectBackboneError(
      loadBackbone({ backbone: 'tiny-graph', weights: fixed, preprocessing: 'tf' }),
      'invalid_config',
      /is a TF\.js graph model \(format "graph-model"\), expected a layers model: load it with format: 'graph'/,
    );
  });
});
