import { createDatasetRequest, type DatasetDetail } from '@edgehead/contracts';
import { z } from 'zod';
import { type CommandGroup, defineCommand, flag } from '../args.ts';
import { gpuOptions } from '../common-options.ts';
import { createContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { type GpuClient, ok } from '../http.ts';
import { emit, table } from '../output.ts';
import { EXTRACTION_COLUMNS, extractionRow } from './extractions.ts';

const nameArgument = ['<id|name>', 'the dataset, by id or by name'] as const;

/** `edgehead datasets create <name> --classes a,b [--task binary|multiclass]`. */
export const datasetsCreate = defineCommand({
  name: 'create',
  summary: 'create a dataset with its classes',
  arguments: [['<name>', 'the dataset name']],
  options: {
    ...gpuOptions,
    classes: flag('--classes <a,b,...>', 'class names, comma-separated', z.string().min(1)),
    task: flag('--task <task>', 'what the head predicts', createDatasetRequest.shape.task, {
      fallback: 'binary for two classes, else multiclass',
    }),
  },
  examples: ['edgehead datasets create cats-vs-dogs --classes cats,dogs'],
  async run(options, [name]) {
    const body = createDatasetRequest.parse({
      name,
      classes: options.classes.split(',').map((c) => c.trim()),
      ...(options.task ? { task: options.task } : {}),
    });
    const ctx = await createContext(options);
    const created = await ok(ctx.gpu.v1.datasets.$post({ json: body }));
    emit(
      ctx.json,
      created,
      () => `created dataset ${created.name} (${created.id}): ${created.classes.join(', ')}`,
    );
    return 0;
  },
});

/** `edgehead datasets list`. */
export const datasetsList = defineCommand({
  name: 'list',
  summary: 'list the datasets with their image counts per split',
  options: gpuOptions,
  async run(options) {
    const ctx = await createContext(options);
    const answer = await ok(ctx.gpu.v1.datasets.$get());
    emit(ctx.json, answer, () =>
      answer.datasets.length === 0
        ? 'no datasets yet: `edgehead datasets create <name> --classes a,b`'
        : table(
            answer.datasets.map((d) => ({
              ...d,
              classes: d.classes.join(','),
              train: d.counts.train ?? 0,
              validation: d.counts.validation ?? 0,
              test: d.counts.test ?? 0,
            })),
            ['id', 'name', 'task', 'classes', 'train', 'validation', 'test', 'createdAt'],
          ),
    );
    return 0;
  },
});

/** `edgehead datasets show <id|name>`. */
export const datasetsShow = defineCommand({
  name: 'show',
  summary: 'one dataset: images per split and label, failed images, its extractions',
  arguments: [nameArgument],
  options: gpuOptions,
  async run(options, [ref]) {
    const ctx = await createContext(options);
    const id = await resolveDatasetId(ctx.gpu, ref as string);
    const detail = await ok(ctx.gpu.v1.datasets[':id'].$get({ param: { id } }));
    emit(ctx.json, detail, () => describeDataset(detail));
    return 0;
  },
});

/** `edgehead datasets rm <id|name>`. */
export const datasetsRm = defineCommand({
  name: 'rm',
  summary: 'delete a dataset with its images, vectors and runs',
  arguments: [nameArgument],
  options: gpuOptions,
  async run(options, [ref]) {
    const ctx = await createContext(options);
    const id = await resolveDatasetId(ctx.gpu, ref as string);
    await ctx.gpu.v1.datasets[':id'].$delete({ param: { id } });
    emit(ctx.json, { id, deleted: true }, () => `deleted dataset ${id}`);
    return 0;
  },
});

/** `edgehead datasets create|list|show|rm`. */
export const datasets: CommandGroup = {
  name: 'datasets',
  summary: 'create, list, show or delete datasets',
  commands: [datasetsCreate, datasetsList, datasetsShow, datasetsRm],
};

/** A dataset given by id or by name, as its id. */
export async function resolveDatasetId(gpu: GpuClient, idOrName: string): Promise<string> {
  const { datasets: all } = await ok(gpu.v1.datasets.$get());
  const match = all.find((d) => d.id === idOrName) ?? all.find((d) => d.name === idOrName);
  if (!match) {
    throw new CliError(
      'usage',
      `no dataset with id or name ${JSON.stringify(idOrName)} (known: ${all.map((d) => d.name).join(', ') || 'none'})`,
    );
  }
  return match.id;
}

/** A dataset's detail as text. */
export function describeDataset(d: DatasetDetail): string {
  const lines = [`${d.name} (${d.id}) ${d.task}: ${d.classes.join(', ')}`];
  lines.push(table(d.labels, ['split', 'label', 'n']));
  if (d.failedImages > 0) lines.push(`${d.failedImages} image(s) failed to featurize`);
  if (d.extractions.length > 0) lines.push(table(d.extractions.map(extractionRow), EXTRACTION_COLUMNS));
  return lines.join('\n');
}
