// Bundles the gpu service for its container: workspace packages inlined, npm packages external (installed
// in the image from dist/package.json, pinned to the versions this checkout runs), the backbones pool worker
// and the training worker as their own entries beside the bundle, and the drizzle migrations copied into
// dist/drizzle.
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_WORKER_FILE } from '@edgehead/backbones';
import { BUNDLED_TRAINING_WORKER_FILE } from '@edgehead/training';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');

/** The folder of an installed package as Node would find it from `from` (some do not export package.json). */
function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`${name} is not installed (looked up from ${from})`);
  }
}

type Manifest = { name: string; version: string; dependencies?: Record<string, string> };
const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Manifest;

/** npm dependencies of this app and of every workspace package it pulls in, at their installed versions. */
async function externalDependencies(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const visit = async (dir: string) => {
    const manifest = await readJson(path.join(dir, 'package.json'));
    if (seen.has(manifest.name)) return;
    seen.add(manifest.name);
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const installed = packageDir(name, dir);
      if (name.startsWith('@edgehead/')) await visit(installed);
      else out[name] = (await readJson(path.join(installed, 'package.json'))).version;
    }
  };
  await visit(root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Keeps bare imports of npm packages external while workspace packages are bundled from source. */
const npmExternal: Plugin = {
  name: 'npm-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@edgehead/') || args.path.startsWith('node:') ? undefined : { external: true },
    );
  },
};

const backbonesDir = path.dirname(fileURLToPath(import.meta.resolve('@edgehead/backbones')));
const trainingDir = path.dirname(fileURLToPath(import.meta.resolve('@edgehead/training')));
const dbDir = path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@edgehead/db'))), '..');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: {
    server: path.join(root, 'src/server.ts'),
    [BUNDLED_WORKER_FILE.replace(/\.js$/, '')]: path.join(backbonesDir, 'worker.ts'),
    [BUNDLED_TRAINING_WORKER_FILE.replace(/\.js$/, '')]: path.join(trainingDir, 'train-worker.ts'),
  },
  outdir: dist,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  plugins: [npmExternal],
  // Runs before any bundled module: the migrations folder beside the bundle unless configured.
  banner: { js: "process.env.EDGEHEAD_MIGRATIONS_DIR ??= import.meta.dirname + '/drizzle';" },
  logLevel: 'warning',
});
await cp(path.join(dbDir, 'drizzle'), path.join(dist, 'drizzle'), { recursive: true });
const app = await readJson(path.join(root, 'package.json'));
await writeFile(
  path.join(dist, 'package.json'),
  `${JSON.stringify(
    {
      name: `${app.name}-dist`,
      version: app.version,
      private: true,
      type: 'module',
      main: 'server.js',
      dependencies: await externalDependencies(),
    },
    null,
    2,
  )}\n`,
);
console.log(
  `built ${path.relative(process.cwd(), dist)}: server.js, ${BUNDLED_WORKER_FILE}, ${BUNDLED_TRAINING_WORKER_FILE}, drizzle/, package.json`,
);
