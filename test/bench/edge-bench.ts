// Shared by the edge benchmarks: the recipe-shaped head they publish, and the edge under `wrangler dev`.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { type FeatureSetIdentity, featureSetKey } from '@edgehead/contracts';
import { type HeadArtifactFiles, type TfjsModelArtifacts, writeHeadArtifact } from '@edgehead/head';
import * as tf from '@tensorflow/tfjs';

const edgeDir = new URL('../../apps/edge/', import.meta.url);

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Builds the edge's static assets, starts `wrangler dev` on 127.0.0.1:`port` with local state in `persist`
 * and `ADMIN_TOKEN` set, and resolves once `/health` answers (the child runs in its own process group).
 */
export async function startWranglerDev(options: {
  port: number;
  persist: string;
  adminToken: string;
  /** A wrangler config other than apps/edge/wrangler.jsonc. */
  config?: string;
  timeoutMs?: number;
}): Promise<ChildProcess> {
  await new Promise<void>((resolve, reject) => {
    const p = spawn('node', ['scripts/assets.mjs'], { cwd: edgeDir, stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`assets step exited ${code}`))));
  });
  const args = ['wrangler', 'dev', ...(options.config ? ['--config', options.config] : [])];
  args.push('--ip', '127.0.0.1', '--port', String(options.port), '--persist-to', options.persist);
  args.push('--var', `ADMIN_TOKEN:${options.adminToken}`, '--show-interactive-dev-session=false');
  args.push('--log-level', 'warn');
  const child = spawn('npx', args, {
    cwd: edgeDir,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${options.port}/health`)).ok) return child;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`wrangler dev did not answer /health within ${timeoutMs / 1000} s`);
}

/** The Keras recipe's head (Flatten 4x4x512 -> Dense 256 relu -> Dropout -> Dense 1 sigmoid) as an artifact. */
export async function recipeArtifact(): Promise<HeadArtifactFiles> {
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 512] }),
      tf.layers.dense({ units: 256, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  let saved: TfjsModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const vgg16: FeatureSetIdentity = {
    backbone: 'vgg16',
    weights: { sha256: '0'.repeat(64), source: 'bench' },
    pooling: 'none',
    preprocessing: 'rescale',
    inputSize: [150, 150],
    featureLayer: 'block5_pool',
    featureShape: [4, 4, 512],
    provenance: null,
  };
  const featureSet = {
    ...vgg16,
    id: randomUUID(),
    key: featureSetKey(vgg16),
    createdAt: new Date().toISOString(),
  };
  return writeHeadArtifact(saved as TfjsModelArtifacts, {
    featureSet,
    featureShape: [4, 4, 512],
    task: 'binary',
    classes: ['cats', 'dogs'],
    threshold: 0.5,
  });
}

/** Publishes `files` as version v1 of alias `recipe` at the edge on `base` and returns a new API key. */
export async function publishRecipe(
  base: string,
  adminToken: string,
  files: HeadArtifactFiles,
  keyName?: string,
): Promise<string> {
  const form = new FormData();
  for (const [name, bytes] of Object.entries(files)) form.append(name, new Blob([bytes]), name);
  const pub = await fetch(`${base}/admin/models/recipe/versions/v1`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}` },
    body: form,
  });
  if (pub.status !== 201) throw new Error(`publish answered ${pub.status}: ${await pub.text()}`);
  const keyRes = await fetch(`${base}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(keyName ? { name: keyName } : {}),
  });
  const { key } = (await keyRes.json()) as { key: string };
  return key;
}
