import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from './index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'edgehead-workers-'));
  const body = (ext: string) =>
    `import { parentPort, workerData } from 'node:worker_threads';\n` +
    `const n${ext === 'ts' ? ': number' : ''} = workerData.n;\n` +
    `parentPort${ext === 'ts' ? '!' : ''}.postMessage({ doubled: n * 2, ext: '${ext}' });\n`;
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(path.join(dir, 'echo.ts'), body('ts'));
  await writeFile(path.join(dir, 'echo.mjs'), body('mjs'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('startWorker', () => {
  it('runs a TypeScript entry from source and a plain JavaScript entry, passing workerData', async () => {
    const fromTs = startWorker(pathToFileURL(path.join(dir, 'echo.ts')), { n: 21 });
    expect(await firstMessage(fromTs)).toEqual({ doubled: 42, ext: 'ts' });
    const fromJs = startWorker(pathToFileURL(path.join(dir, 'echo.mjs')), { n: 4 });
    expect(await firstMessage(fromJs)).toEqual({ doubled: 8, ext: 'mjs' });
  });

  it('reports an entry that throws as a worker error', async () => {
    const broken = path.join(dir, 'broken.ts');
    await writeFile(broken, "throw new Error('no model here');\n");
    await expect(firstMessage(startWorker(pathToFileURL(broken), {}))).rejects.toThrow('no model here');
  });
});
