// `--augment copies=5,seed=1,preset=keras-vgg16-augmentation`: an augmentation as a key=value list.
import { type AugmentationRequest, augmentationRequest } from '@edgehead/contracts';
import { z } from 'zod';

const BOOLEAN: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  '1': true,
  '0': false,
};
const TEXT_KEYS = new Set(['preset', 'fillMode']);

/**
 * Parses `copies=5,seed=1` (every key of the contracts' augmentation request: preset, copies, seed, rotation,
 * widthShift, heightShift, shear, zoom, horizontalFlip, fillMode) into the request body's `augment`; `true`
 * (the flag without a value) is the preset alone. Refuses unknown keys and bad values naming the key.
 * @example parseAugmentSpec('copies=5,seed=1') // { copies: 5, seed: 1 }
 */
export function parseAugmentSpec(
  spec: string | true,
): { ok: true; value: AugmentationRequest } | { ok: false; message: string } {
  const request: Record<string, unknown> = {};
  const parts =
    spec === true
      ? []
      : spec
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, message: `'${part}': expected key=value (e.g. copies=5,seed=1)` };
    const key = part.slice(0, eq).trim();
    const text = part.slice(eq + 1).trim();
    if (key === 'horizontalFlip') {
      if (!(text in BOOLEAN))
        return { ok: false, message: `horizontalFlip: '${text}', expected true or false` };
      request[key] = BOOLEAN[text];
    } else if (TEXT_KEYS.has(key)) request[key] = text;
    else {
      const n = Number(text);
      request[key] = text === '' || !Number.isFinite(n) ? text : n;
    }
  }
  const parsed = augmentationRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue?.path.join('.');
    return { ok: false, message: `${where || 'augment'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: request as AugmentationRequest };
}

/** The schema of an `--augment [spec]` option: absent, the flag alone (`true`) or a key=value list. */
export const augmentFlag = z
  .union([z.literal(true), z.string()])
  .optional()
  .transform((v, ctx): AugmentationRequest | undefined => {
    if (v === undefined) return undefined;
    const parsed = parseAugmentSpec(v);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  });
