import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';

/**
 * The weights identity of a network: sha256 over every weight tensor of every layer, in layer order and
 * each layer's own weight order, each as `<shape>;` followed by its float32 little-endian bytes. It hashes
 * what the network computes with, not the file that carried it, so the same weights read from a Keras .h5,
 * a TF.js folder or a URL give the same hash; on a network cut at its feature layer, weights above the cut
 * (a classifier top) do not count.
 * @example weightsSha256(backbone.model) === backbone.info.featureSet.weights.sha256
 */
export function weightsSha256(model: tf.LayersModel): string {
  const hash = createHash('sha256');
  for (const layer of model.layers) {
    for (const weight of layer.weights) {
      // read() is the variable's own tensor: not disposed here
      const values = weight.read().dataSync();
      const floats = values instanceof Float32Array ? values : Float32Array.from(values);
      hash.update(`${weight.shape.join('x')};`);
      hash.update(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
    }
  }
  return hash.digest('hex');
}
