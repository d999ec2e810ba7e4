// The embedded Postgres as its own process, so `up` stays responsive whatever the database does.
// Prints `ready <url>` once migrations are applied; SIGTERM/SIGINT close it cleanly.
import { applyMigrations, startEmbeddedPostgres } from '@edgehead/db/node';

const dataDir = process.env.EDGEHEAD_DB_DATA_DIR;
const port = Number(process.env.EDGEHEAD_DB_PORT ?? '0');
if (!dataDir) {
  console.error('EDGEHEAD_DB_DATA_DIR is required');
  process.exit(2);
}
const db = await startEmbeddedPostgres({ dataDir, port, host: '127.0.0.1' });
await applyMigrations(db.url);
console.log(`ready ${db.url}`);

let closing = false;
const close = async (signal: string) => {
  if (closing) return;
  closing = true;
  console.log(`${signal}: closing the database`);
  await db.stop();
  console.log('database closed');
  process.exit(0);
};
process.on('SIGTERM', () => void close('SIGTERM'));
process.on('SIGINT', () => void close('SIGINT'));
