import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { optimizerWasmBase64 } from './optimizer-wasm.ts';

/**
 * The fused update rules of optimizer.wat: how many slot variables each keeps beside the variable, and
 * its scalar arguments in the order the wasm function takes them.
 */
export const updateRules = {
  rmsprop: { slots: 1, scalars: ['lr', 'rho', 'oneMinusRho', 'eps'] },
  adam: {
    slots: 2,
    scalars: [
      'negLr',
      'beta1',
      'oneMinusBeta1',
      'beta2',
      'oneMinusBeta2',
      'oneMinusAccBeta1',
      'oneMinusAccBeta2',
      'eps',
    ],
  },
  momentum: { slots: 1, scalars: ['negLr', 'momentum'] },
  sgd: { slots: 0, scalars: ['negLr'] },
} as const;

export type UpdateRule = keyof typeof updateRules;
/** Every scalar any rule takes (each rule reads its own). */
export type UpdateScalars = Record<(typeof updateRules)[UpdateRule]['scalars'][number], number>;

type Functions = Record<UpdateRule | 'gradient_row', (...args: number[]) => void>;
const modules = new WeakMap<BackendWasm, Functions>();
let compiled: WebAssembly.Module | undefined;

/**
 * The module instantiated on this backend's own memory, so that it reads and writes tensors where tfjs-wasm
 * keeps them. tfjs-wasm does not type its emscripten exports: `asm.memory` is the Memory of the 4.x builds.
 */
function functionsOf(backend: BackendWasm): Functions {
  let functions = modules.get(backend);
  if (!functions) {
    const memory = (backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory } }).asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new Error('fused optimizer kernels: this tfjs-backend-wasm build does not expose its memory');
    }
    compiled ??= new WebAssembly.Module(Buffer.from(optimizerWasmBase64, 'base64'));
    const { exports } = new WebAssembly.Instance(compiled, { env: { memory } });
    functions = exports as unknown as Functions;
    modules.set(backend, functions);
  }
  return functions;
}

/**
 * Whether the fused kernels can run on the current backend: wasm, with a memory this module can import
 * (a threaded tfjs-wasm build has shared memory, which it cannot). Elsewhere tfjs ops do the same maths.
 */
export function fusedKernelsAvailable(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  try {
    functionsOf(tf.backend() as BackendWasm);
    return true;
  } catch {
    return false;
  }
}

/**
 * The kernel of one rule. Plain: inputs variable, slot0.., gradient. Dense: inputs variable [units, dim],
 * slot0.., dA [units, batch], x [batch, dim]; the gradient dA . x is made one row at a time into a scratch
 * row that the rule applies at once (the full gradient never exists). Outputs: [variable', ...slots'].
 */
function kernelFunc(rule: UpdateRule, dense: boolean): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const wasm = backend as BackendWasm;
    const functions = functionsOf(wasm);
    const at = (t: tf.TensorInfo) => wasm.getMemoryOffset(t.dataId);
    const input = (name: string) => inputs[name] as tf.TensorInfo;
    const variable = input('variable');
    const state = [variable, ...Array.from({ length: updateRules[rule].slots }, (_, i) => input(`slot${i}`))];
    const outputs = state.map((t) => wasm.makeOutput(t.shape, 'float32'));
    const scalars = updateRules[rule].scalars.map((name) => attrs?.[name] as number);
    const update = functions[rule];
    if (!dense) {
      update(
        ...state.map(at),
        at(input('gradient')),
        ...outputs.map(at),
        tf.util.sizeFromShape(variable.shape),
        ...scalars,
      );
      return outputs;
    }
    const [units, dim] = variable.shape as [number, number];
    const batch = input('dA').shape[1] as number;
    const [dA, x] = [at(input('dA')), at(input('x'))];
    const row = wasm.makeOutput([dim], 'float32');
    const g = at(row);
    const [from, to] = [state.map(at), outputs.map(at)];
    for (let u = 0; u < units; u++) {
      functions.gradient_row(dA + u * batch * 4, x, batch, dim, dim, g);
      const offset = u * dim * 4;
      update(...from.map((p) => p + offset), g, ...to.map((p) => p + offset), dim, ...scalars);
    }
    wasm.disposeData(row.dataId);
    return outputs;
  };
}

const kernelName = (rule: UpdateRule, dense: boolean) => `Edgehead${dense ? 'Dense' : ''}Update_${rule}`;

/** Registers the kernels with tfjs for the wasm backend, once per thread (workers have their own registry). */
function registerKernels(): void {
  for (const rule of Object.keys(updateRules) as UpdateRule[]) {
    for (const dense of [false, true]) {
      const name = kernelName(rule, dense);
      if (!tf.getKernel(name, 'wasm')) {
        tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc(rule, dense) });
      }
    }
  }
}

function runKernel(
  rule: UpdateRule,
  dense: boolean,
  inputs: tf.NamedTensorMap,
  slots: readonly tf.Tensor[],
  scalars: UpdateScalars,
): tf.Tensor[] {
  registerKernels();
  for (const [i, slot] of slots.entries()) inputs[`slot${i}`] = slot;
  const attrs = Object.fromEntries(updateRules[rule].scalars.map((name) => [name, scalars[name]]));
  return tf.engine().runKernel(kernelName(rule, dense), inputs, attrs) as tf.Tensor[];
}

function checkInput(rule: UpdateRule, t: tf.Tensor, shape: readonly number[]): void {
  if (!tf.util.arraysEqual(t.shape, [...shape]) || t.dtype !== 'float32') {
    throw new Error(`fused ${rule} update: a [${t.shape}] ${t.dtype} input, expected [${shape}] float32`);
  }
}

/**
 * One update of `variable` and its slots by `gradient` as a single pass of the fused wasm kernel: returns the
 * new values [variable, ...slots] (the caller assigns them). Bit for bit what tfjs's op-by-op rule computes.
 * Only on the 'wasm' backend.
 */
export function fusedUpdate(
  rule: UpdateRule,
  variable: tf.Tensor,
  slots: readonly tf.Tensor[],
  gradient: tf.Tensor,
  scalars: UpdateScalars,
): tf.Tensor[] {
  for (const t of [gradient, ...slots]) checkInput(rule, t, variable.shape);
  return runKernel(rule, false, { variable, gradient }, slots, scalars);
}

/**
 * The same update with the weight gradient of a dense layer given as its factors: `dA . x` for a
 * kernel stored [units, dim], dA [units, batch], x [batch, dim]. Rows are summed in batch order skipping
 * zero entries of dA, which gives the bits of `tf.matMul(dA, x)` in far less work when most of dA is zero
 * (ReLU and dropout). Only on the 'wasm' backend.
 */
export function fusedDenseUpdate(
  rule: UpdateRule,
  variable: tf.Tensor2D,
  slots: readonly tf.Tensor[],
  dA: tf.Tensor2D,
  x: tf.Tensor2D,
  scalars: UpdateScalars,
): tf.Tensor[] {
  const [units, dim] = variable.shape;
  for (const t of slots) checkInput(rule, t, variable.shape);
  checkInput(rule, dA, [units, dA.shape[1]]);
  checkInput(rule, x, [dA.shape[1], dim]);
  return runKernel(rule, true, { variable, dA, x }, slots, scalars);
}
