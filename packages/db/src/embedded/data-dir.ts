import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../schema/index.ts';
import { EMBEDDED_POSTGRES_MAJOR } from './binaries.ts';
import { EmbeddedPostgresError } from './errors.ts';

/** What a data folder holds, when the server may start on it. */
export type DataDirState =
  | { kind: 'empty' }
  /** A cluster of our major version; `crashedPid`: the dead server of a postmaster.pid left behind. */
  | { kind: 'cluster'; crashedPid: number | null };

/** The only PGlite edgehead ever shipped (0.5.14) is PostgreSQL 18.6 compiled to WebAssembly. */
const PGLITE_MAJOR = '18';

/** Port of the temporary PGlite server in the move-the-data commands. */
const PGLITE_PORT = 54330;

/**
 * Decides whether the server may start on `dataDir`, refusing (with what to do) a PGlite folder, a cluster
 * of another major version, something else, or a folder a live process holds. Reads only; deletes nothing.
 */
export async function inspectDataDir(dataDir: string): Promise<DataDirState> {
  const entries = await readdir(dataDir).catch((error: NodeJS.ErrnoException): string[] => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length === 0) return { kind: 'empty' };
  if (!entries.includes('PG_VERSION')) {
    throw new EmbeddedPostgresError(
      'not_a_cluster',
      `${dataDir} is not empty but holds no PostgreSQL data (no PG_VERSION file); edgehead changed nothing ` +
        'in it: move it away, or keep the data elsewhere (--home / EDGEHEAD_HOME)',
    );
  }
  const major = (await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim();
  // A real server writes postmaster.opts every time it starts; PGlite never does.
  if (major === PGLITE_MAJOR && !entries.includes('postmaster.opts')) {
    throw new EmbeddedPostgresError('pglite_data', pgliteMessage(dataDir));
  }
  if (major !== String(EMBEDDED_POSTGRES_MAJOR)) {
    throw new EmbeddedPostgresError(
      'other_version',
      `${dataDir} holds a PostgreSQL ${major} cluster; the embedded server is PostgreSQL ` +
        `${EMBEDDED_POSTGRES_MAJOR} and cannot open it (edgehead changed nothing in it). Either use that ` +
        `cluster through a PostgreSQL ${major} server (DATABASE_URL), or move the data: dump it with ` +
        `PostgreSQL ${major}'s pg_dumpall, move ${dataDir} away, start edgehead (it creates a new cluster) ` +
        'and restore the dump with psql -f',
    );
  }
  return { kind: 'cluster', crashedPid: await deadServerPid(dataDir) };
}

/**
 * The pid in `postmaster.pid` when its process is gone (a crash: PostgreSQL itself then removes the lock and
 * replays its WAL), null without the file; throws when a live process holds the folder.
 */
async function deadServerPid(dataDir: string): Promise<number | null> {
  const lock = path.join(dataDir, 'postmaster.pid');
  const text = await readFile(lock, 'utf8').catch(() => null);
  if (text === null) return null;
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null; // unreadable: PostgreSQL overwrites it
  if (!isAlive(pid)) return pid;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (command !== null && !/postgres/.test(command)) {
    throw new EmbeddedPostgresError(
      'stale_lock',
      `${lock} names pid ${pid}, which is not a PostgreSQL server (a crash left the file behind and the ` +
        `pid was given to another program), so PostgreSQL refuses to start on ${dataDir}. Check that no ` +
        `server uses the folder (ps -p ${pid}), then remove ${lock} and start again`,
    );
  }
  const port = text.split('\n')[3]?.trim();
  throw new EmbeddedPostgresError(
    'already_running',
    `a PostgreSQL server (pid ${pid}${port ? `, port ${port}` : ''}) is already running on ${dataDir}: ` +
      `stop it (kill -INT ${pid}) or keep this system's data elsewhere (--home / EDGEHEAD_HOME)`,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The project's tables, parents before children (the order a restore with foreign keys needs). */
export function tablesInDependencyOrder(): string[] {
  const tables = Object.values(schema as Record<string, unknown>).filter((value): value is PgTable =>
    is(value, PgTable),
  );
  const configs = new Map(tables.map((t) => [getTableConfig(t).name, getTableConfig(t)]));
  const ordered: string[] = [];
  const visit = (name: string) => {
    if (ordered.includes(name)) return;
    for (const fk of configs.get(name)?.foreignKeys ?? []) {
      const parent = getTableConfig(fk.reference().foreignTable).name;
      if (parent !== name) visit(parent);
    }
    ordered.push(name);
  };
  for (const name of [...configs.keys()].sort()) visit(name);
  return ordered;
}

/** The refusal for a PGlite folder, with the psql commands that move its rows (any psql version works). */
function pgliteMessage(dataDir: string): string {
  const old = `${dataDir}-pglite`;
  const tables = tablesInDependencyOrder();
  const out = tables.map((t) => `-c '\\copy ${t} to ${t}.copy'`).join(' ');
  const into = tables.map((t) => `-c '\\copy ${t} from ${t}.copy'`).join(' ');
  return [
    `${dataDir} holds a PGlite database (PostgreSQL ${PGLITE_MAJOR} in WebAssembly, the embedded database of ` +
      'edgehead before it ran a real PostgreSQL server). edgehead changed nothing in it. To keep its data, ' +
      'move it to the new server (datasets, images, features, runs, models; queued jobs are not moved):',
    `  1. mv ${dataDir} ${old}`,
    `  2. serve the old folder: npx -y -p @electric-sql/pglite@0.5.14 -p @electric-sql/pglite-socket@0.2.17 pglite-server --db=${old} --port=${PGLITE_PORT} &`,
    `  3. copy its rows out: psql -h 127.0.0.1 -p ${PGLITE_PORT} -U postgres -d postgres ${out}`,
    '     then stop that server (kill %1)',
    '  4. start edgehead (npm start): it creates the new cluster and its tables',
    `  5. copy the rows in: psql "$URL" --single-transaction -v ON_ERROR_STOP=1 ${into}`,
    "     where $URL is the new server's URL (databaseUrl in edgehead's config.json)",
  ].join('\n');
}
