import { createDatasetRequest, type DatasetDetail } from '@edgehead/contracts';
import { z } from 'zod';
import { commonSchema, parseCommand } from '../args.ts';
import { createContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { type GpuClient, ok } from '../http.ts';
import { emit, table } from '../output.ts';
import { EXTRACTION_COLUMNS, extractionRow } from './extractions.ts';

/** `edgehead datasets create <name> --classes a,b | list | show <id> | rm <id>`. */
export async function datasets(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create': {
      const { options, positionals } = parseCommand(
        rest,
        { classes: { type: 'string' }, task: { type: 'string' } },
        commonSchema.extend({
          classes: z.string().min(1),
          task: z.enum(['binary', 'multiclass']).optional(),
        }),
        { min: 1, max: 1, usage: 'edgehead datasets create <name> --classes cats,dogs' },
      );
      const body = createDatasetRequest.parse({
        name: positionals[0],
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
    }
    case 'list': {
      const { options } = parseCommand(rest, {}, commonSchema, { max: 0 });
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
    }
    case 'show': {
      const { options, positionals } = parseCommand(rest, {}, commonSchema, {
        min: 1,
        max: 1,
        usage: 'edgehead datasets show <id|name>',
      });
      const ctx = await createContext(options);
      const id = await resolveDatasetId(ctx.gpu, positionals[0] as string);
      const detail = await ok(ctx.gpu.v1.datasets[':id'].$get({ param: { id } }));
      emit(ctx.json, detail, () => describeDataset(detail));
      return 0;
    }
    case 'rm': {
      const { options, positionals } = parseCommand(rest, {}, commonSchema, {
        min: 1,
        max: 1,
        usage: 'edgehead datasets rm <id|name>',
      });
      const ctx = await createContext(options);
      const id = await resolveDatasetId(ctx.gpu, positionals[0] as string);
      await ctx.gpu.v1.datasets[':id'].$delete({ param: { id } });
      emit(ctx.json, { id, deleted: true }, () => `deleted dataset ${id}`);
      return 0;
    }
    default:
      throw new CliError('usage', `datasets ${JSON.stringify(sub ?? '')}: expected create, list, show or rm`);
  }
}

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
