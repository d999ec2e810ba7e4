import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels for training a convolutional top on tfjs-backend-wasm 4.22, which lacks three of them
 * (its forward convolutions and MaxPoolGrad exist), built from kernels it has: strided slices, pads, one
 * transpose and one XNNPACK matrix product (im2col, col2im) for the convolution's filter and input
 * gradients; slices, broadcast products and sums for the depthwise pair. tfjs-backend-cpu's versions are
 * plain index loops (MobileNet v1's 7x7x768x768 filter gradient of a batch of 4 took 75 s there).
 */

type Backend = tf.KernelBackend & { incRef(dataId: tf.DataId): void };

/** Runs one kernel of the backend on TensorInfos, as tfjs backends compose their own kernels. */
function kernel(backend: Backend, name: string) {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`wasm conv gradients: kernel ${name} is not registered for wasm`);
  return (inputs: tf.NamedTensorInfoMap | tf.TensorInfo[], attrs: tf.NamedAttrMap = {}) =>
    config.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo;
}

/** Every kernel the three gradients are built from, bound to one backend, and a way to free results. */
function ops(backend: Backend) {
  const run = (name: string) => kernel(backend, name);
  const temporaries: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => {
    temporaries.push(t);
    return t;
  };
  const o = {
    reshape: (x: tf.TensorInfo, shape: number[]) => keep(run('Reshape')({ x }, { shape })),
    pad: (x: tf.TensorInfo, paddings: [number, number][]) =>
      paddings.every(([a, b]) => a === 0 && b === 0)
        ? x
        : keep(run('PadV2')({ x }, { paddings, constantValue: 0 })),
    stridedSlice: (x: tf.TensorInfo, begin: number[], end: number[], strides: number[]) =>
      keep(
        run('StridedSlice')(
          { x },
          {
            begin,
            end,
            strides,
            beginMask: 0,
            endMask: 0,
            ellipsisMask: 0,
            newAxisMask: 0,
            shrinkAxisMask: 0,
          },
        ),
      ),
    slice: (x: tf.TensorInfo, begin: number[], size: number[]) => keep(run('Slice')({ x }, { begin, size })),
    concat: (xs: tf.TensorInfo[], axis: number) =>
      xs.length === 1 ? (xs[0] as tf.TensorInfo) : keep(run('Concat')(xs, { axis })),
    transpose: (x: tf.TensorInfo, perm: number[]) => keep(run('Transpose')({ x }, { perm })),
    matMul: (a: tf.TensorInfo, b: tf.TensorInfo) =>
      keep(run('BatchMatMul')({ a, b }, { transposeA: false, transposeB: false })),
    multiply: (a: tf.TensorInfo, b: tf.TensorInfo) => keep(run('Multiply')({ a, b })),
    add: (a: tf.TensorInfo, b: tf.TensorInfo) => keep(run('Add')({ a, b })),
    sum: (x: tf.TensorInfo, axis: number[]) => keep(run('Sum')({ x }, { axis, keepDims: false })),
    /** Frees every temporary except `result`, which is returned to the engine. */
    done: (result: tf.TensorInfo): tf.TensorInfo => {
      // A reshape of the result shares its data: hold one more reference so that freeing the temporary keeps it.
      backend.incRef(result.dataId);
      for (const t of temporaries) backend.disposeData(t.dataId);
      return result;
    },
  };
  return o;
}

/** The part of the (zero-)padded input that filter tap (i, j) multiplies: [b, outH, outW, c]. */
function tap(
  o: ReturnType<typeof ops>,
  xp: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  i: number,
  j: number,
) {
  const [b, , , c] = xp.shape as [number, number, number, number];
  const y0 = i * info.dilationHeight;
  const x0 = j * info.dilationWidth;
  return o.stridedSlice(
    xp,
    [0, y0, x0, 0],
    [
      b,
      y0 + (info.outHeight - 1) * info.strideHeight + 1,
      x0 + (info.outWidth - 1) * info.strideWidth + 1,
      c,
    ],
    [1, info.strideHeight, info.strideWidth, 1],
  );
}

function padded(o: ReturnType<typeof ops>, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo) {
  const { top, bottom, left, right } = info.padInfo;
  return o.pad(x, [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]);
}

const attrsOf = <T>(attrs: tf.NamedAttrMap | undefined) => attrs as unknown as T;

/** dW[i, j, c, k] = sum over (b, y, x) of xPadded[b, y*s + i, x*s + j, c] * dy[b, y, x, k]: im2col^T . dy. */
const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrsOf<tf.Conv2DBackpropFilterAttrs>(attrs);
  if (a.dataFormat !== 'NHWC')
    throw new Error(`Conv2DBackpropFilter on wasm: ${a.dataFormat}, expected NHWC`);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const o = ops(backend as Backend);
  const xp = padded(o, x, info);
  const [kh, kw, c, k] = a.filterShape;
  const taps: tf.TensorInfo[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(tap(o, xp, info, i, j));
  const rows = info.batchSize * info.outHeight * info.outWidth;
  // Columns ordered (i, j, c), the filter's own layout; transposed explicitly: a flagged product is slow on wasm.
  const columns = o.transpose(o.reshape(o.concat(taps, 3), [rows, kh * kw * c]), [1, 0]);
  const dw = o.matMul(columns, o.reshape(dy, [rows, k]));
  return o.done(o.reshape(dw, [kh, kw, c, k]));
};

/** dW[i, j, c, m] = sum over (b, y, x) of xPadded[b, y*s + i*d, x*s + j*d, c] * dy[b, y, x, c*M + m]. */
const depthwiseBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrsOf<tf.DepthwiseConv2dNativeBackpropFilterAttrs>(attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    a.dilations,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  const o = ops(backend as Backend);
  const xp = padded(o, x, info);
  const [kh, kw, c, m] = a.filterShape;
  const [b, oh, ow] = [info.batchSize, info.outHeight, info.outWidth];
  const dy5 = o.reshape(dy, [b, oh, ow, c, m]);
  const parts: tf.TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const product = o.multiply(o.reshape(tap(o, xp, info, i, j), [b, oh, ow, c, 1]), dy5);
      parts.push(o.reshape(o.sum(product, [0, 1, 2]), [1, c, m]));
    }
  }
  return o.done(o.reshape(o.concat(parts, 0), [kh, kw, c, m]));
};

/**
 * Adds tap (i, j)'s share `t` ([b, outH, outW, c]) of an input gradient into `sum` at the padded input
 * positions (y*s + i*d, x*s + j*d): strides spread t with zeros between its rows and columns first.
 */
function scatterTap(
  o: ReturnType<typeof ops>,
  sum: tf.TensorInfo | undefined,
  share: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  i: number,
  j: number,
): tf.TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const c = share.shape[3] as number;
  const { top, bottom, left, right } = info.padInfo;
  const [spanH, spanW] = [(oh - 1) * sh + 1, (ow - 1) * sw + 1];
  let t = share;
  if (sh > 1 || sw > 1) {
    const spread = o.pad(o.reshape(t, [b, oh, 1, ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    t = o.slice(o.reshape(spread, [b, oh * sh, ow * sw, c]), [0, 0, 0, 0], [b, spanH, spanW, c]);
  }
  const [y0, x0] = [i * info.dilationHeight, j * info.dilationWidth];
  const placed = o.pad(t, [
    [0, 0],
    [y0, h + top + bottom - y0 - spanH],
    [x0, w + left + right - x0 - spanW],
    [0, 0],
  ]);
  return sum === undefined ? placed : o.add(sum, placed);
}

/** The unpadded input gradient from the sum of every tap's share over the padded input. */
function unpad(o: ReturnType<typeof ops>, sum: tf.TensorInfo, info: tf.backend_util.Conv2DInfo) {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c } = info;
  return o.slice(sum, [0, info.padInfo.top, info.padInfo.left, 0], [b, h, w, c]);
}

/**
 * dx of a convolution: the patches dy . W^T (one XNNPACK product, [b*outH*outW, kh*kw*c]), each tap's
 * column block added back at its input positions (col2im).
 */
const conv2DBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrsOf<tf.Conv2DBackpropInputAttrs>(attrs);
  const [kh, kw, c, k] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    [kh, kw, c, k],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const o = ops(backend as Backend);
  const [b, oh, ow] = [info.batchSize, info.outHeight, info.outWidth];
  const rows = b * oh * ow;
  const filterT = o.transpose(o.reshape(filter, [kh * kw * c, k]), [1, 0]);
  const patches = o.reshape(o.matMul(o.reshape(dy, [rows, k]), filterT), [b, oh, ow, kh * kw, c]);
  let sum: tf.TensorInfo | undefined;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const share = o.reshape(o.slice(patches, [0, 0, 0, i * kw + j, 0], [b, oh, ow, 1, c]), [b, oh, ow, c]);
      sum = scatterTap(o, sum, share, info, i, j);
    }
  }
  return o.done(unpad(o, sum as tf.TensorInfo, info));
};

/** dx of a depthwise convolution: tap (i, j)'s share is sum_m dy[b, y, x, c*M + m] * W[i, j, c, m]. */
const depthwiseBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrsOf<tf.DepthwiseConv2dNativeBackpropInputAttrs>(attrs);
  const [kh, kw, c, m] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    [kh, kw, c, m],
    a.strides,
    a.dilations,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  const o = ops(backend as Backend);
  const dy5 = o.reshape(dy, [info.batchSize, info.outHeight, info.outWidth, c, m]);
  let sum: tf.TensorInfo | undefined;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const weights = o.reshape(o.slice(filter, [i, j, 0, 0], [1, 1, c, m]), [1, 1, 1, c, m]);
      sum = scatterTap(o, sum, o.sum(o.multiply(dy5, weights), [4]), info, i, j);
    }
  }
  return o.done(unpad(o, sum as tf.TensorInfo, info));
};

/** The kernels wasm lacks. */
const MISSING: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

let replacedBackpropInput = false;

/**
 * Registers for wasm the three gradient kernels it lacks (those it still lacks: a later tfjs may bring its
 * own), and replaces its Conv2DBackpropInput for NHWC: wasm's is a direct loop (0.9 s for the 7x7x768x768
 * input gradient of a batch of 4, MobileNet v1's last block), this one a matrix product (NCHW keeps
 * wasm's). Returns what it registered; a second call registers nothing.
 */
export function registerWasmConvGradients(): string[] {
  const registered: string[] = [];
  for (const [kernelName, kernelFunc] of Object.entries(MISSING)) {
    if (tf.getKernel(kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    registered.push(kernelName);
  }
  if (!replacedBackpropInput) {
    const own = tf.getKernel('Conv2DBackpropInput', 'wasm');
    if (own !== undefined) tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({
      kernelName: 'Conv2DBackpropInput',
      backendName: 'wasm',
      setupFunc: own?.setupFunc,
      kernelFunc: (args) =>
        attrsOf<tf.Conv2DBackpropInputAttrs>(args.attrs).dataFormat === 'NHWC' || own === undefined
          ? conv2DBackpropInput(args)
          : own.kernelFunc(args),
    });
    replacedBackpropInput = true;
    registered.push('Conv2DBackpropInput');
  }
  return registered;
}
