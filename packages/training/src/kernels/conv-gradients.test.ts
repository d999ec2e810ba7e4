import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTrainingBackend } from '../backend.ts';
import { seededRandom } from '../data.ts';
import { registerWasmConvGradients } from './conv-gradients.ts';

beforeAll(async () => {
  await initTrainingBackend('wasm');
  registerWasmConvGradients();
});

const randomValues = (n: number, seed: number) => {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
};

/** The kernel's output on wasm and on tfjs-backend-cpu (the reference) for the same inputs. */
async function onBothBackends(name: string, shapes: Record<string, number[]>, attrs: tf.NamedAttrMap) {
  const values = Object.fromEntries(
    Object.entries(shapes).map(([k, s], i) => [
      k,
      randomValues(
        s.reduce((a, b) => a * b, 1),
        i + 1,
      ),
    ]),
  );
  const run = async (backend: 'wasm' | 'cpu') => {
    await tf.setBackend(backend);
    const inputs = Object.fromEntries(
      Object.entries(shapes).map(([k, s]) => [k, tf.tensor(values[k] as Float32Array, s)]),
    );
    const out = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
    const result = { shape: out.shape, data: Array.from(await out.data()) };
    tf.dispose([out, ...Object.values(inputs)]);
    return result;
  };
  const cpu = await run('cpu');
  const before = tf.memory().numTensors;
  const wasm = await run('wasm');
  return { cpu, wasm, leaked: tf.memory().numTensors - before };
}

function expectClose(got: { shape: number[]; data: number[] }, want: { shape: number[]; data: number[] }) {
  expect(got.shape).toEqual(want.shape);
  const worst = Math.max(...got.data.map((v, i) => Math.abs(v - (want.data[i] as number))));
  expect(worst).toBeLessThan(1e-4);
}

describe('wasm gradient kernels (against tfjs-backend-cpu)', () => {
  it('registers the three kernels wasm lacks, once', () => {
    expect(registerWasmConvGradients()).toEqual([]);
    for (const name of [
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
    ]) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
    }
  });

  it.each([
    ['3x3 same, stride 1', [2, 7, 7, 3], [3, 3, 3, 4], 1, 'same'],
    ['3x3 valid, stride 2', [2, 9, 8, 3], [3, 3, 3, 5], 2, 'valid'],
    ['1x1', [3, 7, 7, 6], [1, 1, 6, 6], 1, 'valid'],
    ['5x5 same, stride 2, odd size', [1, 9, 11, 2], [5, 5, 2, 3], 2, 'same'],
  ] as const)(
    'Conv2DBackpropFilter and Conv2DBackpropInput %s',
    async (_, xShape, filterShape, stride, pad) => {
      const info = tf.backend_util.computeConv2DInfo([...xShape], [...filterShape], stride, 1, pad);
      const { cpu, wasm, leaked } = await onBothBackends(
        'Conv2DBackpropFilter',
        { x: [...xShape], dy: info.outShape },
        { strides: stride, pad, dataFormat: 'NHWC', filterShape: [...filterShape] },
      );
      expectClose(wasm, cpu);
      const input = await onBothBackends(
        'Conv2DBackpropInput',
        { dy: info.outShape, filter: [...filterShape] },
        { strides: stride, pad, dataFormat: 'NHWC', inputShape: [...xShape] },
      );
      expectClose(input.wasm, input.cpu);
      expect(leaked + input.leaked).toBe(0);
    },
  );

  it("keeps wasm's own Conv2DBackpropInput for NCHW", async () => {
    const info = tf.backend_util.computeConv2DInfo(
      [1, 3, 6, 6],
      [3, 3, 3, 2],
      1,
      1,
      'same',
      undefined,
      false,
      'channelsFirst',
    );
    const { cpu, wasm } = await onBothBackends(
      'Conv2DBackpropInput',
      { dy: info.outShape, filter: [3, 3, 3, 2] },
      { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [1, 3, 6, 6] },
    );
    expectClose(wasm, cpu);
  });

  it.each([
    ['3x3 same, stride 1', [2, 7, 7, 4], [3, 3, 4, 1], 1, 1, 'same'],
    ['3x3 same, stride 2, multiplier 2', [2, 8, 9, 3], [3, 3, 3, 2], 2, 1, 'same'],
    // tfjs has no gradient for dilated depthwise convolutions, so dilation stays 1 here.
    ['5x5 valid, stride 2', [1, 11, 10, 2], [5, 5, 2, 1], 2, 1, 'valid'],
  ] as const)('DepthwiseConv2dNative gradients %s', async (_, xShape, filterShape, stride, dilation, pad) => {
    const info = tf.backend_util.computeConv2DInfo(
      [...xShape],
      [...filterShape],
      stride,
      dilation,
      pad,
      undefined,
      true,
    );
    const attrs = { strides: stride, dilations: dilation, pad };
    const filter = await onBothBackends(
      'DepthwiseConv2dNativeBackpropFilter',
      { x: [...xShape], dy: info.outShape },
      { ...attrs, filterShape: [...filterShape] },
    );
    expectClose(filter.wasm, filter.cpu);
    const input = await onBothBackends(
      'DepthwiseConv2dNativeBackpropInput',
      { dy: info.outShape, filter: [...filterShape] },
      { ...attrs, inputShape: [...xShape] },
    );
    expectClose(input.wasm, input.cpu);
    expect(filter.leaked + input.leaked).toBe(0);
  });
});
