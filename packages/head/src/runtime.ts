import { HeadError } from './errors.ts';
import { type DenseWasmExports, denseWasmModule } from './kernel/dense-wasm.ts';
import type { Activation, TopologyPlan } from './topology.ts';

/** Which dense kernel runs: wasm SIMD (default where available) or plain JS loops. */
export type KernelKind = 'wasm' | 'js';

/** Options of `createHeadModel`. */
export interface HeadModelOptions {
  /** `auto` (default) prefers wasm and falls back to js when this runtime cannot compile it. */
  kernel?: KernelKind | 'auto';
  /** The compiled `dense.wasm` where the runtime forbids compiling bytes (workerd imports it as a module). */
  wasmModule?: WebAssembly.Module;
  /** Rows to size the scratch buffers for up front (they grow on demand). */
  initialRows?: number;
}

type Step =
  | { kind: 'dense'; nIn: number; stride: number; nOut: number; w: number; b: number; activation: Activation }
  | { kind: 'activation'; width: number; activation: Activation }
  | { kind: 'gap2d'; pixels: number; channels: number };

const roundUp16 = (n: number) => Math.ceil(n / 16) * 16;
const PAGE = 65536;

/** The JS dense kernel with the wasm kernel's contract (float offsets instead of byte offsets). */
function denseJs(
  h: Float32Array,
  x: number,
  w: number,
  b: number,
  out: number,
  nIn: number,
  nOut: number,
  rows: number,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + r * nIn;
    const or = out + r * nOut;
    for (let j = 0; j < nOut; j++) {
      const wj = w + j * nIn;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < nIn; i += 4) {
        s0 += h[xr + i]! * h[wj + i]!;
        s1 += h[xr + i + 1]! * h[wj + i + 1]!;
        s2 += h[xr + i + 2]! * h[wj + i + 2]!;
        s3 += h[xr + i + 3]! * h[wj + i + 3]!;
      }
      h[or + j] = s0 + s1 + (s2 + s3) + h[b + j]!;
    }
  }
}

function activate(h: Float32Array, at: number, width: number, rows: number, activation: Activation): void {
  const end = at + width * rows;
  switch (activation) {
    case 'linear':
      return;
    case 'relu':
      for (let i = at; i < end; i++) if (h[i]! < 0) h[i] = 0;
      return;
    case 'sigmoid':
      for (let i = at; i < end; i++) h[i] = 1 / (1 + Math.exp(-h[i]!));
      return;
    case 'tanh':
      for (let i = at; i < end; i++) h[i] = Math.tanh(h[i]!);
      return;
    case 'softmax':
      for (let r = at; r < end; r += width) {
        let max = Number.NEGATIVE_INFINITY;
        for (let i = r; i < r + width; i++) if (h[i]! > max) max = h[i]!;
        let sum = 0;
        for (let i = r; i < r + width; i++) {
          const e = Math.exp(h[i]! - max);
          h[i] = e;
          sum += e;
        }
        for (let i = r; i < r + width; i++) h[i] = h[i]! / sum;
      }
      return;
  }
}

/**
 * A compiled head: weights laid out once (dense kernels transposed to [out][in], rows zero-padded to 16),
 * scratch buffers reused across calls, so `predict` allocates nothing once warmed up to a batch size.
 */
export class HeadModel {
  /** Flat input length of one vector. */
  readonly inputSize: number;
  /** Output length of one vector. */
  readonly outputSize: number;
  /** The dense kernel in use. */
  readonly kernel: KernelKind;
  private readonly steps: Step[];
  private readonly weightsEnd: number; // floats
  private readonly maxWidth: number; // floats per row of a scratch buffer
  private capacityRows = 0;
  private bufA = 0;
  private bufB = 0;
  private heap: Float32Array;
  private readonly wasm: DenseWasmExports | null;

  constructor(
    plan: TopologyPlan,
    weights: ReadonlyMap<string, Float32Array>,
    options: HeadModelOptions = {},
  ) {
    const want = options.kernel ?? 'auto';
    const module = want === 'js' ? null : denseWasmModule(options.wasmModule);
    if (want === 'wasm' && !module)
      throw new HeadError(
        'bad_input',
        'kernel wasm requested but WebAssembly could not be compiled here; pass options.wasmModule',
      );
    this.wasm = module ? (new WebAssembly.Instance(module, {}).exports as unknown as DenseWasmExports) : null;
    this.kernel = this.wasm ? 'wasm' : 'js';
    this.inputSize = plan.inputShape.reduce((a, b) => a * b, 1);
    this.outputSize = plan.outputSize;

    let offset = 0;
    let maxWidth = roundUp16(this.inputSize);
    const pending: { at: number; data: Float32Array; nIn?: number; stride?: number; nOut?: number }[] = [];
    this.steps = [];
    for (const layer of plan.layers) {
      if (layer.kind === 'dense') {
        const stride = roundUp16(layer.nIn);
        const kernel = weights.get(layer.kernel) as Float32Array;
        const w = offset;
        offset += stride * layer.nOut;
        const b = offset;
        offset += roundUp16(layer.nOut);
        pending.push({ at: w, data: kernel, nIn: layer.nIn, stride, nOut: layer.nOut });
        pending.push({
          at: b,
          data: layer.bias ? (weights.get(layer.bias) as Float32Array) : new Float32Array(layer.nOut),
        });
        this.steps.push({
          kind: 'dense',
          nIn: layer.nIn,
          stride,
          nOut: layer.nOut,
          w,
          b,
          activation: layer.activation,
        });
        maxWidth = Math.max(maxWidth, stride, roundUp16(layer.nOut));
      } else if (layer.kind === 'activation') {
        this.steps.push({ kind: 'activation', width: layer.width, activation: layer.activation });
      } else if (layer.kind === 'gap2d') {
        this.steps.push({ kind: 'gap2d', pixels: layer.height * layer.width, channels: layer.channels });
      }
    }
    this.weightsEnd = offset;
    this.maxWidth = maxWidth;
    this.heap = new Float32Array(0);
    this.ensureRows(Math.max(1, options.initialRows ?? 1));
    for (const p of pending) {
      if (p.nIn === undefined || p.stride === undefined || p.nOut === undefined) {
        this.heap.set(p.data, p.at);
        continue;
      }
      // kernel [nIn][nOut] -> [nOut][stride], zero padding past nIn
      for (let i = 0; i < p.nIn; i++) {
        const row = i * p.nOut;
        for (let j = 0; j < p.nOut; j++) this.heap[p.at + j * p.stride + i] = p.data[row + j]!;
      }
    }
  }

  /** Grows the scratch buffers to hold `rows` vectors (keeps the weights). */
  private ensureRows(rows: number): void {
    if (rows <= this.capacityRows) return;
    const capacity = Math.max(rows, this.capacityRows * 2);
    const floats = this.weightsEnd + 2 * capacity * this.maxWidth;
    if (this.wasm) {
      const memory = this.wasm.memory;
      const needed = Math.ceil((floats * 4) / PAGE) - memory.buffer.byteLength / PAGE;
      if (needed > 0) memory.grow(needed);
      this.heap = new Float32Array(memory.buffer);
    } else {
      const next = new Float32Array(floats);
      next.set(this.heap.subarray(0, this.weightsEnd));
      this.heap = next;
    }
    this.capacityRows = capacity;
    this.bufA = this.weightsEnd;
    this.bufB = this.weightsEnd + capacity * this.maxWidth;
  }

  /**
   * Runs `rows` vectors laid out back to back in `input` (row-major, `rows * inputSize` floats).
   * Returns a view of `rows * outputSize` floats that stays valid until the next call: copy it to keep it.
   * @example const probs = model.predict(features, 1); // probs[0] = P(classes[1]) for a sigmoid head
   */
  predict(input: Float32Array, rows = 1): Float32Array {
    if (!Number.isInteger(rows) || rows < 1 || input.length < rows * this.inputSize) {
      throw new HeadError(
        'bad_input',
        `predict: ${input.length} values for ${rows} rows, expected ${rows} x ${this.inputSize}`,
        {
          expected: rows * this.inputSize,
          actual: input.length,
        },
      );
    }
    this.ensureRows(rows);
    const h = this.heap;
    let width = this.inputSize;
    let cur = this.bufA;
    let other = this.bufB;
    let stride = width; // floats between rows of `cur`
    const firstDense = this.steps[0]?.kind === 'dense' ? (this.steps[0] as { stride: number }).stride : width;
    if (firstDense === width) h.set(input.subarray(0, rows * width), cur);
    else {
      for (let r = 0; r < rows; r++) {
        const at = cur + r * firstDense;
        h.set(input.subarray(r * width, (r + 1) * width), at);
        h.fill(0, at + width, at + firstDense);
      }
      stride = firstDense;
    }
    for (const step of this.steps) {
      if (step.kind === 'dense') {
        if (stride !== step.stride) {
          // repack rows to the kernel's padded stride (small layers only; the input is packed above)
          for (let r = 0; r < rows; r++) {
            h.copyWithin(other + r * step.stride, cur + r * stride, cur + r * stride + width);
            h.fill(0, other + r * step.stride + width, other + (r + 1) * step.stride);
          }
          [cur, other] = [other, cur];
        }
        if (this.wasm)
          this.wasm.dense(cur * 4, step.w * 4, step.b * 4, other * 4, step.stride, step.nOut, rows);
        else denseJs(h, cur, step.w, step.b, other, step.stride, step.nOut, rows);
        [cur, other] = [other, cur];
        width = step.nOut;
        stride = width;
        activate(h, cur, width, rows, step.activation);
      } else if (step.kind === 'activation') {
        if (stride !== width) {
          for (let r = 0; r < rows; r++)
            h.copyWithin(cur + r * width, cur + r * stride, cur + r * stride + width);
          stride = width;
        }
        activate(h, cur, width, rows, step.activation);
      } else {
        const { pixels, channels } = step;
        for (let r = 0; r < rows; r++) {
          const src = cur + r * stride;
          const dst = other + r * channels;
          for (let c = 0; c < channels; c++) {
            let sum = 0;
            for (let p = 0; p < pixels; p++) sum += h[src + p * channels + c]!;
            h[dst + c] = sum / pixels;
          }
        }
        [cur, other] = [other, cur];
        width = channels;
        stride = width;
      }
    }
    if (stride !== width)
      for (let r = 0; r < rows; r++)
        h.copyWithin(cur + r * width, cur + r * stride, cur + r * stride + width);
    return h.subarray(cur, cur + rows * width);
  }
}
