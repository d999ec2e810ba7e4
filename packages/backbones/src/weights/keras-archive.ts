import { unzipSync } from 'fflate';
import { BackboneError } from '../errors.ts';

/** The weights file inside a Keras 3 `.keras` archive (`saving_lib._VARS_FNAME` + `.h5`). */
const WEIGHTS_ENTRY = 'model.weights.h5';

/** True when the bytes start like a zip archive (a Keras 3 `model.save('x.keras')` file). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * The Keras 3 `.weights.h5` bytes inside a `.keras` archive (a zip of config.json, metadata.json and
 * model.weights.h5); `label` names the source in errors.
 */
export function kerasArchiveWeights(bytes: Uint8Array, label: string): Uint8Array {
  let entries: Record<string, Uint8Array>;
  const seen: string[] = [];
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        seen.push(f.name);
        return f.name === WEIGHTS_ENTRY;
      },
    });
  } catch (cause) {
    throw new BackboneError(
      'weights_corrupt',
      `${label}: the .keras archive cannot be unzipped (truncated or damaged)`,
      {
        cause,
      },
    );
  }
  const weights = entries[WEIGHTS_ENTRY];
  if (weights === undefined) {
    throw new BackboneError(
      'weights_corrupt',
      `${label} is a zip archive without ${WEIGHTS_ENTRY} (entries: ${seen.slice(0, 8).join(', ') || 'none'}): ` +
        'expected a Keras 3 .keras file',
      { details: { entries: seen } },
    );
  }
  return weights;
}
