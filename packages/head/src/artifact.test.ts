import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type HeadArtifactFiles, loadHead, verifyHeadArtifact, writeHeadArtifact } from './artifact.ts';
import { HeadError } from './errors.ts';
import { artifactOf, binaryFields, featureSetOf, recipeHead, saveArtifacts } from './fixtures.test-util.ts';
import { decodeFloat16, encodeFloat16 } from './float16.ts';
import { denseWasmBytes } from './kernel/dense-wasm.ts';
import { sha256Hex } from './sha256.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
let files: HeadArtifactFiles;

beforeAll(async () => {
  await tf.setBackend('cpu');
  files = await artifactOf(recipeHead([2, 2, 3], 8), binaryFields([2, 2, 3]));
});

/** Rewrites model.json with `edit` and re-signs the manifest, so only the topology check can object. */
type LayerJson = { class_name: string; config: Record<string, unknown> };
type ModelJson = { modelTopology: { config: { layers: LayerJson[] } } };

async function withModelJson(edit: (layers: LayerJson[]) => void): Promise<HeadArtifactFiles> {
  const json = JSON.parse(dec.decode(files['model.json'])) as ModelJson;
  edit(json.modelTopology.config.layers);
  const modelBytes = enc.encode(JSON.stringify(json));
  const manifest = JSON.parse(dec.decode(files['manifest.json']));
  manifest.files[0] = {
    path: 'model.json',
    sha256: await sha256Hex(modelBytes),
    bytes: modelBytes.byteLength,
  };
  return { ...files, 'model.json': modelBytes, 'manifest.json': enc.encode(JSON.stringify(manifest)) };
}

async function headError(p: Promise<unknown>): Promise<HeadError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeadError);
  return err as HeadError;
}

describe('head artifact', () => {
  it('is written as TF.js layers JSON with weights.bin and a manifest of checksums', async () => {
    const model = JSON.parse(dec.decode(files['model.json']));
    expect(model.format).toBe('layers-model');
    expect(model.weightsManifest[0].paths).toEqual(['weights.bin']);
    const manifest = JSON.parse(dec.decode(files['manifest.json']));
    expect(manifest.files).toEqual([
      {
        path: 'model.json',
        sha256: await sha256Hex(files['model.json']),
        bytes: files['model.json'].byteLength,
      },
      {
        path: 'weights.bin',
        sha256: await sha256Hex(files['weights.bin']),
        bytes: files['weights.bin'].byteLength,
      },
    ]);
    const verified = await verifyHeadArtifact(files);
    expect(verified.plan.inputShape).toEqual([2, 2, 3]);
    expect(verified.plan.layers.map((l) => l.kind)).toEqual(['reshape', 'dense', 'dense']);
  });

  it('loads back into tfjs with the same predictions', async () => {
    const weightSpecs = JSON.parse(dec.decode(files['model.json'])).weightsManifest[0].weights;
    const reloaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: JSON.parse(dec.decode(files['model.json'])).modelTopology,
        weightSpecs,
        weightData: files['weights.bin'].slice().buffer,
      }),
    );
    const x = tf.ones([1, 2, 2, 3]);
    const head = await loadHead(files);
    expect((reloaded.predict(x) as tf.Tensor).dataSync()[0]).toBeCloseTo(
      head.model.predict(new Float32Array(12).fill(1))[0] as number,
      5,
    );
  });

  it('rejects a weights.bin whose sha256 differs from the manifest, naming the file', async () => {
    const tampered = files['weights.bin'].slice();
    tampered[0] = (tampered[0] as number) ^ 1;
    const err = await headError(verifyHeadArtifact({ ...files, 'weights.bin': tampered }));
    expect(err.code).toBe('checksum_mismatch');
    expect(err.message).toContain('weights.bin');
    expect(err.details?.expected).not.toBe(err.details?.actual);
  });

  it('rejects a truncated file by its byte length', async () => {
    const err = await headError(
      verifyHeadArtifact({ ...files, 'model.json': files['model.json'].subarray(1) }),
    );
    expect(err.code).toBe('size_mismatch');
    expect(err.details).toMatchObject({ file: 'model.json', expected: files['model.json'].byteLength });
  });

  it('rejects a kernel whose shape disagrees with its layer, naming the layer', async () => {
    const bad = await withModelJson((layers) => {
      (layers[1] as LayerJson).config.units = 9;
    });
    const err = await headError(verifyHeadArtifact(bad));
    expect(err.code).toBe('shape_mismatch');
    expect(err.message).toMatch(/layer dense_Dense\d+: kernel shape \[12,8\], expected \[12,9\]/);
  });

  it('rejects unsupported layers and activations by name', async () => {
    const conv = await withModelJson((layers) => {
      (layers[0] as LayerJson).class_name = 'Conv2D';
    });
    expect((await headError(verifyHeadArtifact(conv))).code).toBe('unsupported_layer');
    const elu = await withModelJson((layers) => {
      (layers[1] as LayerJson).config.activation = 'elu';
    });
    const err = await headError(verifyHeadArtifact(elu));
    expect(err.message).toContain('"elu"');
  });

  it('refuses to write a manifest whose featureShape differs from the model input', async () => {
    const err = await headError(
      writeHeadArtifact(await saveArtifacts(recipeHead([2, 2, 3], 8)), binaryFields([12])),
    );
    expect(err.code).toBe('input_mismatch');
    expect(err.details).toEqual({ expected: [12], actual: [2, 2, 3] });
  });

  it('writes edgehead-head/2 with the feature-set record, and refuses a featureShape that is not its own', async () => {
    const manifest = JSON.parse(dec.decode(files['manifest.json']));
    expect(manifest.format).toBe('edgehead-head/2');
    expect(manifest.featureSet).toEqual(featureSetOf([2, 2, 3]));
    const err = await headError(
      writeHeadArtifact(await saveArtifacts(recipeHead([2, 2, 3], 8)), {
        ...binaryFields([2, 2, 3]),
        featureSet: featureSetOf([12]),
      }),
    );
    expect(err.code).toBe('bad_manifest');
    expect(err.message).toContain('featureShape must equal featureSet.featureShape');
  });

  it('still verifies and runs an edgehead-head/1 artifact (heads published before feature-set records)', async () => {
    const { featureSet: _record, ...rest } = JSON.parse(dec.decode(files['manifest.json']));
    const v1 = { ...rest, format: 'edgehead-head/1', backbone: 'vgg16', preprocessing: 'rescale' };
    const head = await loadHead({ ...files, 'manifest.json': enc.encode(JSON.stringify(v1)) });
    expect(head.manifest).toMatchObject({ format: 'edgehead-head/1', backbone: 'vgg16' });
    const x = new Float32Array(12).fill(0.5);
    const same = await loadHead(files);
    expect(head.model.predict(x, 1)).toEqual(same.model.predict(x, 1));
  });

  it('rejects a manifest with a bad field, naming it', async () => {
    const manifest = JSON.parse(dec.decode(files['manifest.json']));
    manifest.classes = ['only'];
    const err = await headError(
      verifyHeadArtifact({ ...files, 'manifest.json': enc.encode(JSON.stringify(manifest)) }),
    );
    expect(err.code).toBe('bad_manifest');
    expect(err.message).toContain('classes');
  });
});

describe('kernel module and float16', () => {
  it('ships dense.wasm with exactly the emitter bytes (run npm run emit-wasm after a change)', () => {
    const shipped = readFileSync(new URL('./kernel/dense.wasm', import.meta.url));
    expect(Buffer.from(denseWasmBytes()).equals(shipped)).toBe(true);
  });

  it('round-trips float16 values, including subnormals, infinities and rounding to even', () => {
    const values = [0, -0, 1, -2.5, 65504, 1e-7, 6.1e-5, Number.POSITIVE_INFINITY, 0.1, 1 + 2 ** -11];
    const back = decodeFloat16(encodeFloat16(values));
    expect(Array.from(back)).toEqual([
      0,
      -0,
      1,
      -2.5,
      65504,
      1.1920928955078125e-7,
      0.00006097555160522461,
      Number.POSITIVE_INFINITY,
      0.0999755859375,
      1,
    ]);
  });
});
