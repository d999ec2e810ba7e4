import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import { loadBackbone } from '../load.ts';
import { cloneLayersModel, expandUnfreeze } from '../split.ts';
import { sharedDir } from '../test-fixtures.ts';
import { weightsSha256 } from './identity.ts';
import { layersModelFiles } from './tfjs-folder.ts';

let dir = '';
beforeAll(async () => {
  await initBackend({ prefer: ['wasm'] });
  dir = await mkdtemp(path.join(tmpdir(), 'edgehead-layers-files-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

// What a fine-tuning run stores: the backbone as extraction runs it, with other weights in its top block.
// VGG16's topology is built in code (its weights are assigned by name); MobileNet's comes from the folder.
describe.each([
  ['vgg16', 'random', 'block5'],
  ['mobilenet_v2_0.35', path.join(sharedDir(), 'models', 'mobilenet_v2_0.35_224_no_top'), 'last-block'],
] as const)('layersModelFiles of a changed %s', (backbone, weights, preset) => {
  it.skipIf(weights !== 'random' && !existsSync(weights))(
    'loads back through loadBackbone with every weight as stored and their sha256',
    { timeout: 120_000 },
    async () => {
      const base = await loadBackbone({ backbone, weights, seed: 3, warmup: false });
      const tuned = await cloneLayersModel(base.model as tf.LayersModel);
      const layer = tuned.getLayer(expandUnfreeze(backbone, [preset]).at(-1) as string);
      layer.setWeights(layer.getWeights().map((w) => tf.add(w, 0.01)));
      const files = await layersModelFiles(tuned);
      const folder = path.join(dir, backbone);
      await mkdir(folder);
      await writeFile(path.join(folder, 'model.json'), files['model.json']);
      await writeFile(path.join(folder, 'weights.bin'), files['weights.bin']);

      const loaded = await loadBackbone({ backbone, weights: folder, warmup: false });
      try {
        expect(loaded.info.featureSet.weights.sha256).toBe(weightsSha256(tuned));
        expect(loaded.info.featureSet.weights.sha256).not.toBe(base.info.featureSet.weights.sha256);
        const model = loaded.model as tf.LayersModel;
        expect(model.layers.map((l) => l.name)).toEqual(tuned.layers.map((l) => l.name));
        const stored = model.getLayer(layer.name).getWeights();
        layer.getWeights().forEach((w, i) => {
          expect(Array.from(stored[i]?.dataSync() ?? [])).toEqual(Array.from(w.dataSync()));
        });
      } finally {
        tuned.dispose();
        await loaded.dispose();
        await base.dispose();
      }
    },
  );
});
