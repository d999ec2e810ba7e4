import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';

/**
 * The weights identity of a network: sha256 over every weight tensor of every layer, in layer order and
 * each layer's own weight order, each as `<shape>;` followed by its float32 little-endian bytes. It hashes
 * what the network computes with, not the file that carried it, so the same weights read from a Keras .h5,
 * a TF.js folder or a URL give the same hash; on a network cut at its feature layer, weights above the cut
 * (a classifier top) do not count. A graph model hashes all its named weights.
 * @example weightsSha256(backbone.model) === backbone.info.featureSet.weights.sha256
 */
export function weightsSha256(model: tf.LayersModel | tf.GraphModel): string {
  const hash = createHash('sha256');
  const add = (tensor: tf.Tensor) => {
    const values = tensor.dataSync();
    const floats = values instanceof Float32Array ? values : Float32Array.from(values);
    hash.update(`${tensor.shape.join('x')};`);
    hash.update(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
  };
  if ('layers' in model) {
    // read() is the variable's own tensor: not disposed here
    for (const layer of model.layers) for (const weight of layer.weights) add(weight.read());
  } else {
    // a graph model's weights are named constants: hashed by name, in sorted order, with their names
    const named = model.weights;
    for (const name of Object.keys(named).sort()) {
      hash.update(`${name};`);
      for (const tensor of named[name] ?? []) add(tensor);
    }
  }
  return hash.digest('hex');
}
