import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

/**
 * Gradient kernels that training a convolutional top needs and tfjs-backend-wasm 4.22 does not have (its
 * forward convolutions and MaxPoolGrad exist): without them a wasm backward pass throws "Kernel
 * 'Conv2DBackpropFilter' not registered".
 */
const WASM_MISSING = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

/**
 * Registers, for the wasm backend, each of those kernels it lacks as a call of tfjs-backend-cpu's own
 * implementation: inputs are copied out of the wasm heap, the cpu kernel runs (plain JS, so these steps run
 * at cpu-backend speed while everything else stays on wasm), and its output is copied back. Returns the
 * kernels it registered (none on a second call, or when a tfjs version brings its own).
 */
export function registerWasmGradientFallbacks(): string[] {
  const registered: string[] = [];
  for (const kernelName of WASM_MISSING) {
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (tf.getKernel(kernelName, 'wasm') !== undefined || cpuKernel === undefined) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend: wasmBackend }) => {
        const wasm = wasmBackend as tf.KernelBackend;
        const cpu = tf.engine().findBackend('cpu');
        if (cpu === null) throw new Error(`${kernelName} on wasm: the cpu backend did not initialise`);
        const copied = Object.fromEntries(
          Object.entries(inputs).map(([name, t]) => {
            const info = t as tf.TensorInfo;
            return [name, { ...info, dataId: cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype) }];
          }),
        );
        try {
          const result = cpuKernel.kernelFunc({ inputs: copied, attrs, backend: cpu });
          const outputs = (Array.isArray(result) ? result : [result]).map((out) => {
            const values = cpu.readSync(out.dataId);
            cpu.disposeData(out.dataId);
            return { ...out, dataId: wasm.write(values, out.shape, out.dtype) };
          });
          return Array.isArray(result) ? outputs : (outputs[0] as tf.TensorInfo);
        } finally {
          for (const t of Object.values(copied)) cpu.disposeData(t.dataId);
        }
      },
    });
    registered.push(kernelName);
  }
  return registered;
}
