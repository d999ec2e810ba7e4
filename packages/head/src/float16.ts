/** Converts one IEEE 754 half (as its 16 bits) to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const table = new Float32Array(65536);
for (let i = 0; i < 65536; i++) table[i] = halfToFloat(i);

/** Decodes little-endian float16 bytes into float32 (`out` reused when given). */
export function decodeFloat16(
  bytes: Uint8Array,
  out = new Float32Array(bytes.byteLength >> 1),
): Float32Array {
  for (let i = 0, j = 0; j < out.length; i += 2, j++) out[j] = table[bytes[i]! | (bytes[i + 1]! << 8)]!;
  return out;
}

/** Decodes little-endian float32 bytes at any byte offset. */
export function decodeFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  return new Float32Array(bytes.slice().buffer, 0, bytes.byteLength >> 2);
}

/** Encodes numbers as little-endian float16 (round to nearest even), e.g. for clients and tests. */
export function encodeFloat16(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
    else {
      const e = exp - 127 + 15;
      if (e >= 0x1f) h = sign | 0x7c00;
      else if (e <= 0) {
        if (e < -10) h = sign;
        else {
          mant |= 0x800000;
          const shift = 14 - e;
          let half = mant >> shift;
          const rem = mant & ((1 << shift) - 1);
          const mid = 1 << (shift - 1);
          if (rem > mid || (rem === mid && half & 1)) half++;
          h = sign | half;
        }
      } else {
        h = sign | (e << 10) | (mant >> 13);
        const rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      }
    }
    out[i * 2] = h & 0xff;
    out[i * 2 + 1] = h >> 8;
  }
  return out;
}
