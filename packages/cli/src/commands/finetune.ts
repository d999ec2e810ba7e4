import { type FineTuneRunRequest, headConfig, type RunDetailResponse } from '@edgehead/contracts';
import { z } from 'zod';
import { defineCommand, flag, numberFlag, type Values } from '../args.ts';
import { gpuOptions } from '../common-options.ts';
import type { Context } from '../context.ts';
import { ok } from '../http.ts';
import { emit, epochLine } from '../output.ts';
import { describeRun, followRun, writeContext } from './gpu.ts';

const field = headConfig.shape;
const recipe = "the recipe's";

/** Options of `edgehead finetune`. */
export const fineTuneOptions = {
  ...gpuOptions,
  fromRun: flag(
    '--from-run <id>',
    'the succeeded head run to start from (its dataset, feature set and trained head)',
    z.uuid({ error: 'expected a run id (UUID)' }),
  ),
  unfreeze: flag(
    '--unfreeze <layers>',
    'comma-separated layer names or presets to train: block5 (vgg16), last-block (mobilenets)',
    z
      .string()
      .min(1)
      .transform((s) =>
        s
          .split(',')
          .map((l) => l.trim())
          .filter((l) => l.length > 0),
      ),
  ),
  lr: flag('--lr <x>', 'learning rate', numberFlag(field.learningRate).optional(), {
    fallback: `${recipe} 1e-5`,
  }),
  epochs: flag('--epochs <n>', 'epochs', numberFlag(field.epochs).optional(), { fallback: `${recipe} 100` }),
  batchSize: flag('--batch-size <n>', 'batch size', numberFlag(field.batchSize).optional(), {
    fallback: `${recipe} 20`,
  }),
  optimizer: flag('--optimizer <name>', 'optimizer', field.optimizer.optional(), {
    fallback: `${recipe} rmsprop`,
  }),
  seed: flag('--seed <n>', 'seed of shuffling and dropout', numberFlag(field.seed).optional(), {
    fallback: '0',
  }),
  modelName: flag(
    '--model-name <name>',
    "register the head under this name (default: the dataset's)",
    z.string().min(1).optional(),
  ),
  wait: flag('--no-wait', 'queue the run and return without following it', z.boolean()),
};

/** The `POST /v1/runs` body of the finetune options (only those given). */
export function fineTuneBody(o: Values<typeof fineTuneOptions>): FineTuneRunRequest {
  const body: FineTuneRunRequest = { kind: 'finetune', fromRun: o.fromRun, unfreeze: o.unfreeze };
  if (o.lr !== undefined) body.learningRate = o.lr;
  if (o.epochs !== undefined) body.epochs = o.epochs;
  if (o.batchSize !== undefined) body.batchSize = o.batchSize;
  if (o.optimizer !== undefined) body.optimizer = o.optimizer;
  if (o.seed !== undefined) body.seed = o.seed;
  if (o.modelName !== undefined) body.modelName = o.modelName;
  return body;
}

/** Starts a fine-tuning run and follows it (one line per epoch on stdout unless `quiet`). */
export async function startFineTune(
  ctx: Context,
  body: FineTuneRunRequest,
  quiet: boolean,
): Promise<RunDetailResponse> {
  const { id } = await ok(ctx.gpu.v1.runs.$post({ json: body }));
  if (!quiet) process.stderr.write(`fine-tuning run ${id} queued\n`);
  return followRun(ctx.gpu, id, (m, d) => {
    if (!quiet) process.stdout.write(`${epochLine(m, d.run.epochsTotal || undefined)}\n`);
  });
}

/** A fine-tuning run's detail as text: the run, then the feature set it produced. */
export function describeFineTune(d: RunDetailResponse): string {
  const lines = [describeRun(d)];
  if (d.run.outputFeatureSetId) lines.push(`  fine-tuned feature set ${d.run.outputFeatureSetId}`);
  return lines.join('\n');
}

/** `edgehead finetune --from-run <id> --unfreeze block5 [--lr x] [--epochs n]`. */
export const finetune = defineCommand({
  name: 'finetune',
  summary: "fine-tune the backbone's top block with a trained head; one line per epoch, then the evaluation",
  description:
    'Fine-tunes the top layers of the backbone of a finished head run together with its trained head (the ' +
    "recipe's second step: RMSprop 1e-5 unless given). The frozen part runs once; each epoch runs only the " +
    'unfrozen layers and the head. The result is a new feature set (the tuned weights, stored by the gpu ' +
    "service) with the dataset's vectors and a head registered on it, published like any other. A head run " +
    'on an augmented feature set (`train --augmented`) fine-tunes on the same copies of the training images. ' +
    'Exits 1 when the run fails or is cancelled.',
  options: fineTuneOptions,
  examples: [
    'edgehead finetune --from-run <run id> --unfreeze block5',
    'edgehead finetune --from-run <run id> --unfreeze last-block --lr 1e-5 --epochs 20',
    'edgehead finetune --from-run <run id> --unfreeze conv_pw_13,conv_pw_13_bn --json',
  ],
  async run(options) {
    const ctx = await writeContext(options);
    const body = fineTuneBody(options);
    if (!options.wait) {
      const started = await ok(ctx.gpu.v1.runs.$post({ json: body }));
      emit(ctx.json, started, () => `queued fine-tuning run ${started.id}`);
      return 0;
    }
    const detail = await startFineTune(ctx, body, ctx.json);
    emit(ctx.json, detail, () => describeFineTune(detail));
    return detail.run.status === 'succeeded' ? 0 : 1;
  },
});
