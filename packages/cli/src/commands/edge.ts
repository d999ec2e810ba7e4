import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ClassifyResponse, headFeatureSetLabel, modelAlias } from '@edgehead/contracts';
import { z } from 'zod';
import { commonSchema, parseCommand } from '../args.ts';
import { type Context, createContext, requireToken } from '../context.ts';
import { CliError } from '../errors.ts';
import { ok } from '../http.ts';
import { emit, formatNumber, table } from '../output.ts';

const aliasFlag = modelAlias;

/** `edgehead activate <alias> <version>`: points the alias at a published version. */
export async function activate(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(argv, {}, commonSchema, {
    min: 2,
    max: 2,
    usage: 'edgehead activate <alias> <version>',
  });
  const ctx = await adminContext(options);
  const alias = aliasFlag.parse(positionals[0]);
  const answer = await ok(
    ctx.admin.admin.models[':alias'].activate.$post({
      param: { alias },
      json: { version: positionals[1] as string },
    }),
  );
  emit(ctx.json, answer, () => `${answer.alias}: active ${answer.active} (was ${answer.previous ?? 'none'})`);
  return 0;
}

/** `edgehead rollback <alias>`: re-activates the previously active version. */
export async function rollback(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(argv, {}, commonSchema, {
    min: 1,
    max: 1,
    usage: 'edgehead rollback <alias>',
  });
  const ctx = await adminContext(options);
  const alias = aliasFlag.parse(positionals[0]);
  const answer = await ok(ctx.admin.admin.models[':alias'].rollback.$post({ param: { alias } }));
  emit(
    ctx.json,
    answer,
    () => `${answer.alias}: rolled back to ${answer.active} (was ${answer.previous ?? 'none'})`,
  );
  return 0;
}

/** `edgehead models [alias]`: published aliases, or one alias's versions and activation history. */
export async function models(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(argv, {}, commonSchema, {
    max: 1,
    usage: 'edgehead models [alias]',
  });
  const ctx = await adminContext(options);
  if (positionals[0]) {
    const alias = aliasFlag.parse(positionals[0]);
    const answer = await ok(ctx.admin.admin.models[':alias'].versions.$get({ param: { alias } }));
    emit(ctx.json, answer, () =>
      [
        `${answer.alias}: active ${answer.active ?? 'none'}`,
        table(
          answer.versions.map((v) => ({
            version: v.version,
            active: v.version === answer.active ? '*' : '',
            featureSet: headFeatureSetLabel(v.manifest),
            classes: v.manifest.classes.join(','),
            accuracy: v.manifest.metrics.accuracy ?? v.manifest.metrics.test_accuracy ?? null,
            publishedAt: v.publishedAt,
          })),
          ['version', 'active', 'featureSet', 'classes', 'accuracy', 'publishedAt'],
        ),
      ].join('\n'),
    );
    return 0;
  }
  const answer = await ok(ctx.admin.admin.models.$get());
  emit(ctx.json, answer, () =>
    answer.models.length ? table(answer.models, ['alias', 'active', 'versions']) : 'no models published yet',
  );
  return 0;
}

/** `edgehead keys create [--name N]`: a new API key for the classify routes (shown once). */
export async function keys(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') throw new CliError('usage', `keys ${JSON.stringify(sub ?? '')}: expected create`);
  const { options } = parseCommand(
    rest,
    { name: { type: 'string' } },
    commonSchema.extend({ name: z.string().min(1).max(100).optional() }),
    { max: 0 },
  );
  const ctx = await adminContext(options);
  const answer = await ok(ctx.admin.admin.keys.$post({ json: options.name ? { name: options.name } : {} }));
  emit(
    ctx.json,
    answer,
    () =>
      `API key ${answer.id}${answer.name ? ` (${answer.name})` : ''}: ${answer.key}\nit is shown only now; send it as Authorization: Bearer <key>`,
  );
  return 0;
}

/** Image types the edge's classify-image accepts, by file extension. */
const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

/** How a file is sent to classify: an image to classify-image, anything else as raw float32/float16 features. */
export function classifyTarget(
  file: string,
  dtype: 'float32' | 'float16',
): { route: 'classify' | 'classify-image'; contentType: string; query: { dtype?: 'float32' | 'float16' } } {
  const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
  if (type) return { route: 'classify-image', contentType: type, query: {} };
  return { route: 'classify', contentType: 'application/octet-stream', query: { dtype } };
}

/** Sends one file to the edge and returns the answer and the round-trip time. */
export async function classifyFile(
  ctx: Context,
  alias: string,
  file: string,
  dtype: 'float32' | 'float16' = 'float32',
): Promise<{ answer: ClassifyResponse; ms: number }> {
  const target = classifyTarget(file, dtype);
  const body = await readFile(file);
  const started = performance.now();
  const model = ctx.edge.v1.models[':alias'];
  const options = { headers: { 'content-type': target.contentType }, init: { body } };
  const answer = await ok(
    target.route === 'classify'
      ? model.classify.$post({ param: { alias }, query: target.query }, options)
      : model['classify-image'].$post({ param: { alias } }, options),
  );
  return { answer, ms: performance.now() - started };
}

/** `edgehead classify <file...> --alias A [--dtype float16]`: images (.jpg/.png/.webp) or feature files (.bin). */
export async function classify(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(
    argv,
    { alias: { type: 'string', short: 'a' }, dtype: { type: 'string' } },
    commonSchema.extend({ alias: modelAlias, dtype: z.enum(['float32', 'float16']).default('float32') }),
    { min: 1, usage: 'edgehead classify <image|features.bin>... --alias <alias>' },
  );
  const ctx = await createContext(options);
  requireToken(ctx.endpoints.apiKey, 'API key', '--api-key', 'EDGEHEAD_API_KEY');
  const results: (ClassifyResponse & { file: string; ms: number })[] = [];
  for (const file of positionals) {
    const { answer, ms } = await classifyFile(ctx, options.alias, file, options.dtype);
    results.push({ file, ...answer, ms });
  }
  emit(ctx.json, results, () =>
    table(
      results.map((r) => {
        const p = r.predictions[0];
        const top = p ? Math.max(...Object.values(p.probabilities).map(Number)) : null;
        return {
          file: r.file,
          label: p?.label ?? '-',
          p: top === null ? '-' : formatNumber(top),
          version: r.version,
          source: r.source ?? 'features',
          ms: Math.round(r.ms),
        };
      }),
      ['file', 'label', 'p', 'version', 'source', 'ms'],
    ),
  );
  return 0;
}

async function adminContext(options: z.infer<typeof commonSchema>): Promise<Context> {
  const ctx = await createContext(options);
  requireToken(ctx.endpoints.adminToken, 'edge admin token', '--admin-token', 'EDGEHEAD_ADMIN_TOKEN');
  return ctx;
}
