import type * as tf from '@tensorflow/tfjs';

/**
 * Multiply-accumulates of one forward pass of `model` for a single image: the convolutions
 * (regular and depthwise) and dense layers, which are nearly all of a CNN's arithmetic; batch norm,
 * activations, pooling and merges are not counted. Lets benchmark rows of different backbones compare.
 */
export function countMacs(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const kernel = layer.weights[0]?.shape.map((d) => d ?? 1);
    const out = layer.outputShape as (number | null)[];
    if (kernel === undefined) continue;
    const cls = layer.getClassName();
    const positions = out.slice(1, -1).reduce<number>((a, d) => a * (d ?? 1), 1);
    const outChannels = out[out.length - 1] ?? 1;
    if (cls === 'Conv2D') {
      const [kh = 1, kw = 1, cin = 1] = kernel;
      macs += positions * outChannels * kh * kw * cin;
    } else if (cls === 'DepthwiseConv2D') {
      const [kh = 1, kw = 1] = kernel;
      macs += positions * outChannels * kh * kw;
    } else if (cls === 'Dense') {
      macs += positions * outChannels * (kernel[0] ?? 1);
    }
  }
  return macs;
}
