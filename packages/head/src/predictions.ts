import type { HeadManifest, Prediction } from '@edgehead/contracts';

/**
 * Turns head outputs (`rows x outputSize`) into labelled predictions: binary heads compare
 * P(classes[1]) with `manifest.threshold`, multiclass heads take the argmax.
 */
export function toPredictions(manifest: HeadManifest, output: Float32Array, rows: number): Prediction[] {
  const width = output.length / rows;
  const { classes } = manifest;
  // outputs are float32: compare against the float32 threshold so that P = threshold decides positive
  const threshold = Math.fround(manifest.threshold ?? 0.5);
  const out: Prediction[] = [];
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    if (manifest.task === 'binary') {
      const p1 = width === 1 ? output[at]! : output[at + 1]!;
      const neg = classes[0] as string;
      const pos = classes[1] as string;
      out.push({ label: p1 >= threshold ? pos : neg, probabilities: { [neg]: 1 - p1, [pos]: p1 } });
    } else {
      let best = 0;
      const probabilities: Record<string, number> = {};
      for (let c = 0; c < width; c++) {
        const p = output[at + c]!;
        probabilities[classes[c] as string] = p;
        if (p > output[at + best]!) best = c;
      }
      out.push({ label: classes[best] as string, probabilities });
    }
  }
  return out;
}
