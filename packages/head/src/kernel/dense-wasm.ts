/**
 * A WebAssembly SIMD kernel for dense layers, emitted byte by byte (no toolchain needed):
 * `dense(x, w, b, out, nIn, nOut, rows)` computes `out[r][j] = b[j] + dot(x[r], w[j])` with
 * `w` transposed to [nOut][nIn] and `nIn` a multiple of 16 (callers zero-pad), all f32, 4 f32x4 accumulators.
 * Node compiles `denseWasmBytes()` directly; workerd forbids compiling at runtime, so the edge imports the
 * committed `dense.wasm` (identical bytes, checked by a test) as a module and passes it in.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function str(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

// params: 0 x, 1 w, 2 b, 3 out, 4 nIn, 5 nOut, 6 rows
// locals: 7 r, 8 j, 9 xi, 10 wi, 11 xend, 12 xrow, 13 op, 14..17 acc0..acc3
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const i32c = (n: number) => [0x41, n]; // small non-negative constants only (< 64)
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
const I32_GE_U = 0x4f;
const simd = (op: number) => [0xfd, ...uleb(op)];
const V128_LOAD = (offset: number) => [...simd(0x00), 0, ...uleb(offset)];
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const extract = (lane: number) => [...simd(0x1f), lane];
const F32_ADD = 0x92;
const zero128 = [...simd(0x0c), ...new Array<number>(16).fill(0)];

function body(): number[] {
  const accStep = (k: number) => [
    ...get(14 + k),
    ...get(9),
    ...V128_LOAD(16 * k),
    ...get(10),
    ...V128_LOAD(16 * k),
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...set(14 + k),
  ];
  const code = [
    ...i32c(0),
    ...set(7),
    ...[0x02, 0x40, 0x03, 0x40], // block loop (rows)
    ...get(7),
    ...get(6),
    I32_GE_U,
    0x0d,
    1,
    // xrow = x + r * nIn * 4
    ...get(0),
    ...get(7),
    ...get(4),
    I32_MUL,
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    ...set(12),
    // op = out + r * nOut * 4
    ...get(3),
    ...get(7),
    ...get(5),
    I32_MUL,
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    ...set(13),
    ...i32c(0),
    ...set(8),
    ...[0x02, 0x40, 0x03, 0x40], // block loop (outputs)
    ...get(8),
    ...get(5),
    I32_GE_U,
    0x0d,
    1,
    ...get(12),
    ...set(9),
    ...get(12),
    ...get(4),
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    ...set(11),
    // wi = w + j * nIn * 4
    ...get(1),
    ...get(8),
    ...get(4),
    I32_MUL,
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    ...set(10),
    ...zero128,
    ...set(14),
    ...zero128,
    ...set(15),
    ...zero128,
    ...set(16),
    ...zero128,
    ...set(17),
    ...[0x02, 0x40, 0x03, 0x40], // block loop (inner dot product, 16 floats per step)
    ...get(9),
    ...get(11),
    I32_GE_U,
    0x0d,
    1,
    ...accStep(0),
    ...accStep(1),
    ...accStep(2),
    ...accStep(3),
    ...get(9),
    0x41,
    ...[0xc0, 0x00], // i32.const 64 (signed LEB needs two bytes)
    I32_ADD,
    ...set(9),
    ...get(10),
    0x41,
    ...[0xc0, 0x00],
    I32_ADD,
    ...set(10),
    0x0c,
    0,
    0x0b,
    0x0b,
    // acc0 = (acc0 + acc1) + (acc2 + acc3)
    ...get(14),
    ...get(15),
    ...F32X4_ADD,
    ...get(16),
    ...get(17),
    ...F32X4_ADD,
    ...F32X4_ADD,
    ...set(14),
    // store address: op + j * 4
    ...get(13),
    ...get(8),
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    // value: ((l0 + l1) + (l2 + l3)) + b[j]
    ...get(14),
    ...extract(0),
    ...get(14),
    ...extract(1),
    F32_ADD,
    ...get(14),
    ...extract(2),
    ...get(14),
    ...extract(3),
    F32_ADD,
    F32_ADD,
    ...get(2),
    ...get(8),
    ...i32c(2),
    I32_SHL,
    I32_ADD,
    ...[0x2a, 2, 0], // f32.load
    F32_ADD,
    ...[0x38, 2, 0], // f32.store
    ...get(8),
    ...i32c(1),
    I32_ADD,
    ...set(8),
    0x0c,
    0,
    0x0b,
    0x0b,
    ...get(7),
    ...i32c(1),
    I32_ADD,
    ...set(7),
    0x0c,
    0,
    0x0b,
    0x0b,
    0x0b, // end function
  ];
  const locals = [2, 7, I32, 4, V128];
  const fn = [...locals, ...code];
  return [...uleb(fn.length), ...fn];
}

/** The kernel module's bytes (deterministic; `dense.wasm` beside this file is the same bytes). */
export function denseWasmBytes(): Uint8Array {
  const type = section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0]);
  const func = section(3, [1, 0]);
  const memory = section(5, [1, 0, 1]);
  const exports = section(7, [2, ...str('memory'), 2, 0, ...str('dense'), 0, 0]);
  const code = section(10, [1, ...body()]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...type,
    ...func,
    ...memory,
    ...exports,
    ...code,
  ]);
}

/** The instance's exports. */
export interface DenseWasmExports {
  memory: WebAssembly.Memory;
  dense: (x: number, w: number, b: number, out: number, nIn: number, nOut: number, rows: number) => void;
}

let compiled: WebAssembly.Module | null | undefined;

// workerd's types mark the constructor abstract (it throws there); Node compiles synchronously
const WasmModule = WebAssembly.Module as unknown as new (bytes: BufferSource) => WebAssembly.Module;

/**
 * The kernel module: the one passed in (workerd, imported `dense.wasm`), else compiled from bytes
 * (Node); null when this runtime allows neither, and the JS kernel is used.
 */
export function denseWasmModule(provided?: WebAssembly.Module): WebAssembly.Module | null {
  if (provided) return provided;
  if (compiled === undefined) {
    try {
      compiled = new WasmModule(denseWasmBytes() as BufferSource);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}
