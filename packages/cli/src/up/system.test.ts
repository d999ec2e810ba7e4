import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '@edgehead/db/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateConfig, saveConfig } from '../config.ts';
import { freePort } from './ports.ts';
import { startSystem } from './system.ts';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'edgehead-up-'));
});
afterEach(() => rm(home, { recursive: true, force: true }));

/** Every file under `dir` and its bytes. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      out[path.join(e.parentPath, e.name)] = (await readFile(path.join(e.parentPath, e.name))).toString(
        'hex',
      );
  }
  return out;
}

async function up(dbPort?: number) {
  const lines: string[] = [];
  const [gpuPort, edgePort] = [await freePort(), await freePort()];
  const error = await startSystem({
    home,
    gpuPort,
    edgePort,
    dbPort: dbPort ?? (await freePort()),
    databaseUrl: null,
    healthTimeoutMs: 1000,
    log: (service, line) => lines.push(`${service}: ${line}`),
  }).then(
    () => new Error('edgehead up started'),
    (e: unknown) => e as Error & { code: string },
  );
  return { error, lines };
}

describe('edgehead up refuses a data folder it cannot use, and deletes nothing in it', () => {
  it('names a PostgreSQL cluster of another major version and how to move its data', async () => {
    const pg = path.join(home, 'pg');
    await mkdir(path.join(pg, 'base'), { recursive: true });
    await writeFile(path.join(pg, 'PG_VERSION'), '17\n');
    await writeFile(path.join(pg, 'postmaster.opts'), 'postgres\n');
    const before = await contents(pg);
    const { error } = await up();
    expect(error).toMatchObject({ code: 'config' });
    expect(error.message).toContain(`${pg} holds a PostgreSQL 17 cluster`);
    expect(error.message).toContain('pg_dumpall');
    expect(await contents(pg)).toEqual(before);
    // and the lock of this start is gone again
    expect((await readdir(home)).sort()).toEqual(['config.json', 'pg']);
  });

  it("names a crash's postmaster.pid whose pid another program now has", async () => {
    const pg = path.join(home, 'pg');
    await mkdir(pg, { recursive: true });
    await writeFile(path.join(pg, 'PG_VERSION'), '15\n');
    await writeFile(path.join(pg, 'postmaster.opts'), 'postgres\n');
    await writeFile(path.join(pg, 'postmaster.pid'), `${process.pid}\n${pg}\n1700000000\n54329\n`);
    const before = await contents(pg);
    const { error } = await up();
    expect(error).toMatchObject({ code: 'config' });
    expect(error.message).toContain(`${path.join(pg, 'postmaster.pid')} names pid ${process.pid}`);
    expect(await contents(pg)).toEqual(before);
  });

  it('refuses a PGlite folder with the commands that move its data', async () => {
    const pg = path.join(home, 'pg');
    await mkdir(path.join(pg, 'global'), { recursive: true });
    await writeFile(path.join(pg, 'PG_VERSION'), '18\n');
    const before = await contents(pg);
    const { error } = await up();
    expect(error).toMatchObject({ code: 'config' });
    expect(error.message).toContain(`${pg} holds a PGlite database`);
    expect(error.message).toContain('pglite-server');
    expect(await contents(pg)).toEqual(before);
  });

  it('says where the password lives when the cluster refuses the one in config.json', async () => {
    await chmod(home, 0o755); // as root the server runs as 'postgres'
    const pg = path.join(home, 'pg');
    const cluster = await startEmbeddedPostgres({ dataDir: pg, password: 'the-first-password-0123' });
    await cluster.stop();
    const { config } = await loadOrCreateConfig(home); // a config made after the cluster: another password
    await saveConfig(home, { ...config, dbPassword: 'another-password-456789' });
    const { error, lines } = await up();
    expect(error).toMatchObject({ code: 'config' });
    expect(error.message).toContain(`the embedded PostgreSQL in ${pg} refused the password in`);
    // the server it started for the check was stopped again
    expect(lines.at(-1)).toBe('up: db stopped (0)');
  }, 60_000);

  it('names the busy database port and the flag that moves it', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const { error } = await up(port);
      expect(error).toMatchObject({ code: 'port_in_use' });
      expect(error.message).toBe(
        `port ${port} (embedded PostgreSQL) is already in use; choose another with --db-port or EDGEHEAD_DB_PORT`,
      );
    } finally {
      blocker.close();
    }
  });
});
