import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ClassifyResponse, featureDtype, headFeatureSetLabel, modelAlias } from '@edgehead/contracts';
import { z } from 'zod';
import { type CommandGroup, defineCommand, flag } from '../args.ts';
import { adminOptions, type CommonOptions, classifyOptions } from '../common-options.ts';
import { type Context, createContext, requireToken } from '../context.ts';
import { ok } from '../http.ts';
import { emit, formatNumber, table } from '../output.ts';

const aliasArgument = ['<alias>', 'the model alias'] as const;

/** `edgehead activate <alias> <version>`: points the alias at a published version. */
export const activate = defineCommand({
  name: 'activate',
  summary: 'make a published version the active one of its alias',
  arguments: [
    aliasArgument,
    ['<version>', 'a published version of it (`edgehead models <alias>` lists them)'],
  ],
  options: adminOptions,
  async run(options, positionals) {
    const ctx = await adminContext(options);
    const alias = modelAlias.parse(positionals[0]);
    const version = positionals[1] as string;
    const answer = await ok(
      ctx.admin.admin.models[':alias'].activate.$post({ param: { alias }, json: { version } }),
    );
    emit(
      ctx.json,
      answer,
      () => `${answer.alias}: active ${answer.active} (was ${answer.previous ?? 'none'})`,
    );
    return 0;
  },
});

/** `edgehead rollback <alias>`: re-activates the previously active version. */
export const rollback = defineCommand({
  name: 'rollback',
  summary: 'make the previously active version of an alias active again',
  arguments: [aliasArgument],
  options: adminOptions,
  async run(options, positionals) {
    const ctx = await adminContext(options);
    const alias = modelAlias.parse(positionals[0]);
    const answer = await ok(ctx.admin.admin.models[':alias'].rollback.$post({ param: { alias } }));
    emit(
      ctx.json,
      answer,
      () => `${answer.alias}: rolled back to ${answer.active} (was ${answer.previous ?? 'none'})`,
    );
    return 0;
  },
});

/** `edgehead models [alias]`: published aliases, or one alias's versions and activation history. */
export const models = defineCommand({
  name: 'models',
  summary: "the aliases published at the edge, or one alias's versions",
  arguments: [['[alias]', 'list the versions of this alias']],
  options: adminOptions,
  async run(options, positionals) {
    const ctx = await adminContext(options);
    if (positionals[0]) {
      const alias = modelAlias.parse(positionals[0]);
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
      answer.models.length
        ? table(answer.models, ['alias', 'active', 'versions'])
        : 'no models published yet',
    );
    return 0;
  },
});

/** `edgehead keys create [--name N]`: a new API key for the classify routes (shown once). */
export const keysCreate = defineCommand({
  name: 'create',
  summary: 'a new API key for the classify routes (shown only now)',
  options: {
    ...adminOptions,
    name: flag('--name <name>', 'a name to recognise the key by', z.string().min(1).max(100).optional()),
  },
  async run(options) {
    const ctx = await adminContext(options);
    const answer = await ok(ctx.admin.admin.keys.$post({ json: options.name ? { name: options.name } : {} }));
    emit(
      ctx.json,
      answer,
      () =>
        `API key ${answer.id}${answer.name ? ` (${answer.name})` : ''}: ${answer.key}\nit is shown only now; send it as Authorization: Bearer <key>`,
    );
    return 0;
  },
});

/** `edgehead keys create`. */
export const keys: CommandGroup = {
  name: 'keys',
  summary: 'API keys of the classify routes',
  commands: [keysCreate],
};

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
export const classify = defineCommand({
  name: 'classify',
  summary: 'classify images, or files of feature vectors, through the edge',
  description:
    'Sends each file to the edge: an image (.jpg, .jpeg, .png, .webp) to classify-image, which finds its ' +
    'features in the edge cache or has the gpu service compute them; any other file as raw little-endian ' +
    'feature vectors (--dtype) to classify. Prints the label, its probability, the version and the latency.',
  arguments: [['<files...>', 'images, or feature files (.bin)']],
  options: {
    ...classifyOptions,
    alias: flag('-a, --alias <alias>', 'the model alias', modelAlias),
    dtype: flag('--dtype <dtype>', 'number type of the values in feature files', featureDtype, {
      default: 'float32',
    }),
  },
  examples: ['edgehead classify cat.jpg dog.png --alias cats-vs-dogs'],
  async run(options, files) {
    const ctx = await createContext(options);
    requireToken(ctx.endpoints.apiKey, 'API key', '--api-key', 'EDGEHEAD_API_KEY');
    const results: (ClassifyResponse & { file: string; ms: number })[] = [];
    for (const file of files) {
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
  },
});

async function adminContext(options: CommonOptions): Promise<Context> {
  const ctx = await createContext(options);
  requireToken(ctx.endpoints.adminToken, 'edge admin token', '--admin-token', 'EDGEHEAD_ADMIN_TOKEN');
  return ctx;
}
