import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { parseEnv } from './env.ts';
import { startServices } from './services.ts';

// Entry of the gpu service: `npm run dev -w @edgehead/gpu` (tsx) or `node dist/server.js` (container).
const env = parseEnv();
if (env.token === undefined) {
  console.error('EDGEHEAD_GPU_TOKEN is required (at least 16 characters)');
  process.exit(1);
}
const services = await startServices(env);
const backend = await services.deps.extractors.backend();
const app = createApp(services.deps);
const server = serve({ fetch: app.fetch, port: env.port, hostname: env.host }, (info) => {
  console.log(
    `edgehead gpu service on http://${info.address}:${info.port} (tfjs ${backend.name}, pool ${env.poolSize}, ` +
      `database ${new URL(services.database.url).host})`,
  );
});

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  server.close();
  await services.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
