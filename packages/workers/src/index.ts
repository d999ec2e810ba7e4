import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The URL of tsx's ESM API, resolved through its package.json `exports` (require.resolve picks its CJS entry). */
function tsxEsmApi(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = require(pkgPath) as { exports: Record<string, { import?: { default?: string } } | string> };
  const entry = pkg.exports['./esm/api'];
  const rel = typeof entry === 'string' ? entry : (entry?.import?.default ?? './dist/esm/api/index.mjs');
  return new URL(rel, pathToFileURL(pkgPath)).href;
}

/**
 * Starts a worker thread on `url`: a bundled `.js` entry directly, a `.ts` entry (running from source under
 * tsx or vitest) through a small eval bootstrap that registers tsx's ESM hooks inside the thread first,
 * because in Node 20 a `--import tsx` in the worker's execArgv does not apply to its own entry module.
 *
 * @example const worker = startWorker(new URL('./worker.ts', import.meta.url), { model: 'vgg16' });
 */
export function startWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const boot =
    `import(${JSON.stringify(tsxEsmApi())}).then((m) => { (m.register ?? m.default.register)(); ` +
    `return import(${JSON.stringify(url.href)}); })` +
    '.catch((e) => { setImmediate(() => { throw e; }); });';
  return new Worker(boot, { eval: true, workerData });
}
