import {
  ApiError,
  BYTES_PER_VALUE,
  CLASSIFY_LIMITS,
  classifyJsonRequest,
  type FeatureDtype,
  validationFailed,
} from '@edgehead/contracts';
import { decodeFloat16, decodeFloat32 } from '@edgehead/head';

/** Feature vectors decoded from a request body: `rows` vectors of `d` floats, back to back. */
export interface FeatureBatch {
  data: Float32Array;
  rows: number;
}

function checkRows(rows: number) {
  if (rows > CLASSIFY_LIMITS.maxBatch) {
    throw new ApiError(
      413,
      'payload_too_large',
      `batch of ${rows} vectors, at most ${CLASSIFY_LIMITS.maxBatch} per request`,
      {
        field: 'features',
        max: CLASSIFY_LIMITS.maxBatch,
        actual: rows,
      },
    );
  }
}

function checkFinite(data: Float32Array, d: number) {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      throw new ApiError(
        400,
        'bad_request',
        `feature ${i % d} of vector ${Math.floor(i / d)} is ${v}, expected a finite number`,
        {
          field: 'features',
          vector: Math.floor(i / d),
          index: i % d,
          value: String(v),
        },
      );
    }
  }
}

/** JSON numbers are float64: one that is finite there but overflows float32 would reach the head as Infinity. */
function checkFloat32Range(data: Float32Array, rows: number[][], d: number) {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      const r = Math.floor(i / d);
      const value = rows[r]?.[i % d];
      throw new ApiError(
        400,
        'bad_request',
        `feature ${i % d} of vector ${r} is ${value}, outside the float32 range (magnitude at most 3.4028235e38)`,
        { field: `features.${r}.${i % d}`, vector: r, index: i % d, value: String(value) },
      );
    }
  }
}

/** Decodes a binary body of little-endian float32 or float16 values into vectors of length `d`. */
export function decodeBinaryFeatures(bytes: Uint8Array, d: number, dtype: FeatureDtype): FeatureBatch {
  if (bytes.byteLength === 0)
    throw new ApiError(400, 'bad_request', 'empty body: expected feature bytes', { field: 'body' });
  const rowBytes = d * BYTES_PER_VALUE[dtype];
  if (bytes.byteLength % rowBytes !== 0) {
    throw new ApiError(
      400,
      'bad_request',
      `body of ${bytes.byteLength} bytes is not a whole number of ${dtype} vectors of ${d} values (${rowBytes} bytes each)`,
      {
        field: 'body',
        dtype,
        expectedMultipleOf: rowBytes,
        actual: bytes.byteLength,
      },
    );
  }
  const rows = bytes.byteLength / rowBytes;
  checkRows(rows);
  const data = dtype === 'float16' ? decodeFloat16(bytes) : decodeFloat32(bytes);
  checkFinite(data, d);
  return { data, rows };
}

/** Decodes a JSON body `{ features: number[] | number[][] }` into vectors of length `d`. */
export function decodeJsonFeatures(text: string, d: number): FeatureBatch {
  if (text.trim() === '')
    throw new ApiError(400, 'bad_request', 'empty body: expected JSON { "features": [...] }', {
      field: 'body',
    });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new ApiError(
      400,
      'bad_request',
      `body is not valid JSON: ${(cause as Error).message}`,
      { field: 'body' },
      { cause },
    );
  }
  const parsed = classifyJsonRequest.safeParse(body);
  if (!parsed.success) throw validationFailed('features', parsed.error.issues);
  const { features } = parsed.data;
  const single = typeof features[0] === 'number';
  const mixed = features.findIndex((f) => (typeof f === 'number') !== single);
  if (mixed !== -1) {
    throw new ApiError(
      400,
      'bad_request',
      `features.${mixed} is ${single ? 'an array' : 'a number'}: send one vector (numbers) or a batch (arrays), not both`,
      {
        field: `features.${mixed}`,
      },
    );
  }
  const rowsIn = single ? [features as number[]] : (features as number[][]);
  checkRows(rowsIn.length);
  const data = new Float32Array(rowsIn.length * d);
  for (const [r, row] of rowsIn.entries()) {
    if (row.length !== d) {
      throw new ApiError(400, 'bad_request', `vector ${r} has ${row.length} values, the model expects ${d}`, {
        field: single ? 'features' : `features.${r}`,
        expected: d,
        actual: row.length,
      });
    }
    data.set(row, r * d);
  }
  checkFloat32Range(data, rowsIn, d);
  return { data, rows: rowsIn.length };
}
