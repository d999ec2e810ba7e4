import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../client.ts';
import { createDataset, getDataset } from '../index.ts';
import { applyMigrations } from '../migrate.ts';
import { EMBEDDED_POSTGRES_MAJOR, postgresBinaries } from './binaries.ts';
import { tablesInDependencyOrder } from './data-dir.ts';
import { EmbeddedPostgresError } from './errors.ts';
import { type EmbeddedPostgres, prepareEmbeddedPostgres, startEmbeddedPostgres } from './server.ts';

const PASSWORD = 'test-password-0123456789';

/** Every file below `dir` with its size and bytes, to show a refused folder is untouched. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, file);
    out[rel] = entry.isFile() ? (await readFile(file)).toString('base64') : 'dir';
  }
  return out;
}

async function expectRefusal(dataDir: string, code: string, ...phrases: string[]) {
  const before = await snapshot(dataDir);
  const error = await prepareEmbeddedPostgres({ dataDir, password: PASSWORD }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EmbeddedPostgresError);
  expect((error as EmbeddedPostgresError).code).toBe(code);
  for (const phrase of phrases) expect((error as Error).message).toContain(phrase);
  expect(await snapshot(dataDir)).toEqual(before);
  return (error as Error).message;
}

describe('the embedded PostgreSQL server', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgehead-embedded-'));
    await chmod(work, 0o755); // as root the server runs as 'postgres', which must enter this folder
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('runs the PostgreSQL major version it is declared to run', async () => {
    const { postgres: bin } = await postgresBinaries();
    const { stdout } = await promisify(execFile)(bin, ['--version']);
    expect(stdout).toMatch(new RegExp(`\\(PostgreSQL\\) ${EMBEDDED_POSTGRES_MAJOR}\\.`));
  });

  it('keeps data across a restart, and asks for the password it was created with', async () => {
    const dataDir = path.join(work, 'keeps');
    const first = await startEmbeddedPostgres({ dataDir, password: PASSWORD });
    const db1 = await connect({ url: first.url });
    await createDataset(db1.db, { name: 'survives', classes: ['a', 'b'] });
    await db1.close();
    await first.stop();
    expect((await stat(path.join(dataDir, 'PG_VERSION'))).mode & 0o777).toBe(0o600);

    const launch = await prepareEmbeddedPostgres({ dataDir, password: PASSWORD });
    expect(launch.state).toBe('existing');
    const second = await startEmbeddedPostgres({ dataDir, password: PASSWORD });
    try {
      const db2 = await connect({ url: second.url });
      expect((await getDataset(db2.db, 'survives')).classes).toEqual(['a', 'b']);
      await db2.close();
      const wrong = new URL(second.url);
      wrong.password = 'not-the-password';
      const client = postgres(wrong.toString(), { max: 1, onnotice: () => undefined });
      await expect(client`select 1`).rejects.toMatchObject({ code: '28P01' });
      await client.end();
    } finally {
      await second.stop();
    }
  });

  describe('on one running server', () => {
    let server: EmbeddedPostgres;
    beforeAll(async () => {
      server = await startEmbeddedPostgres({ durable: false });
    });
    afterAll(async () => {
      await server.stop();
    });

    it('applies migrations once: a second run changes nothing', async () => {
      await applyMigrations(server.url);
      const client = postgres(server.url, { max: 1, onnotice: () => undefined });
      const count = async () =>
        (await client`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]?.n as number;
      const before = await count();
      await Promise.all([applyMigrations(server.url), applyMigrations(server.url)]);
      expect(await count()).toBe(before);
      expect(before).toBeGreaterThan(0);
      await client.end();
    });

    it('gives every connection its own backend: named prepared statements, settings and transactions do not mix', async () => {
      // postgres.js prepares named statements by default; each of the 8 connections has its own
      const client = postgres(server.url, { max: 8, onnotice: () => undefined });
      const other = postgres(server.url, { max: 1, onnotice: () => undefined });
      try {
        await client`create table counter (n int not null)`;
        const echoes = await Promise.all(
          Array.from({ length: 60 }, (_, i) => client`select ${i}::int as i, ${`v${i}`}::text as v`),
        );
        expect(echoes.map((rows) => rows[0])).toEqual(
          Array.from({ length: 60 }, (_, i) => ({ i, v: `v${i}` })),
        );
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            client
              .begin(async (tx) => {
                await tx`insert into counter values (${i})`;
                if (i % 3 === 0) throw new Error('roll back this one');
              })
              .catch(() => undefined),
          ),
        );
        // what pg_dump does on its connection stays there
        await other.unsafe("select pg_catalog.set_config('search_path', '', false)");
        const [row] = await client`select count(*)::int as n, sum(n)::int as s from counter`;
        expect(row).toEqual({ n: 6, s: 1 + 2 + 4 + 5 + 7 + 8 });
      } finally {
        await client.end();
        await other.end();
      }
    });

    it('refuses to start a second server on a folder a running one holds', async () => {
      const error = await prepareEmbeddedPostgres({ dataDir: server.dataDir }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'already_running' });
      expect((error as Error).message).toContain(`pid ${server.pid}, port ${server.port}`);
      expect((error as Error).message).toContain(server.dataDir);
    });

    it('names the busy port when it cannot listen', async () => {
      const dataDir = path.join(work, 'busy-port');
      const error = await startEmbeddedPostgres({ dataDir, port: server.port, durable: false }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'port_in_use' });
      expect((error as Error).message).toContain(`port ${server.port} on 127.0.0.1 is already in use`);
    });
  });

  it('recovers a cluster whose server was killed: the stale postmaster.pid is reported, committed rows survive', async () => {
    const dataDir = path.join(work, 'crash');
    const first = await startEmbeddedPostgres({ dataDir, password: PASSWORD });
    const client = postgres(first.url, { max: 1, onnotice: () => undefined });
    await client`create table kept (n int)`;
    await client`insert into kept select generate_series(1, 100)`;
    await client.end();
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    expect(await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).toMatch(
      new RegExp(`^${first.pid}\n`),
    );

    // its backends notice the dead postmaster and exit; until then the shared memory is still in use
    let launch = await prepareEmbeddedPostgres({ dataDir, password: PASSWORD });
    expect(launch).toMatchObject({ state: 'recovering', crashedPid: first.pid });
    let again: EmbeddedPostgres | null = null;
    for (let attempt = 0; !again; attempt++) {
      again = await startEmbeddedPostgres({ dataDir, password: PASSWORD }).catch((error: unknown) => {
        if (attempt > 20 || (error as EmbeddedPostgresError).code !== 'already_running') throw error;
        return new Promise<null>((resolve) => setTimeout(() => resolve(null), 250));
      });
    }
    try {
      const after = postgres(again.url, { max: 1, onnotice: () => undefined });
      expect((await after`select count(*)::int as n from kept`)[0]?.n).toBe(100);
      await after.end();
    } finally {
      await again.stop();
    }
    launch = await prepareEmbeddedPostgres({ dataDir, password: PASSWORD });
    expect(launch.state).toBe('existing');
  });

  it('refuses a postmaster.pid whose pid now belongs to another program, and leaves the file', async () => {
    const dataDir = path.join(work, 'stale');
    const server = await startEmbeddedPostgres({ dataDir, password: PASSWORD, durable: false });
    await server.stop();
    // the lock a crash leaves behind, with a pid the OS has since given to a live non-PostgreSQL process
    const lock = path.join(dataDir, 'postmaster.pid');
    await writeFile(lock, `${process.pid}\n${dataDir}\n1700000000\n${server.port}\n\n127.0.0.1\n`);
    await expectRefusal(dataDir, 'stale_lock', lock, `pid ${process.pid}`, 'remove');
  });

  it('refuses a PGlite folder with the commands that move its rows, and changes nothing in it', async () => {
    // what the PGlite of earlier edgeheads (0.5.14, PostgreSQL 18) leaves: a data folder without postmaster.opts
    const dataDir = path.join(work, 'pglite');
    await mkdir(path.join(dataDir, 'base', '1'), { recursive: true });
    await mkdir(path.join(dataDir, 'global'));
    await writeFile(path.join(dataDir, 'PG_VERSION'), '18\n');
    await writeFile(path.join(dataDir, 'global', 'pg_control'), Buffer.alloc(8192, 1));
    const message = await expectRefusal(dataDir, 'pglite_data', `${dataDir} holds a PGlite database`);
    expect(message).toContain(`mv ${dataDir} ${dataDir}-pglite`);
    expect(message).toContain('pglite-server --db=');
    for (const table of tablesInDependencyOrder()) {
      expect(message).toContain(`\\copy ${table} to ${table}.copy`);
      expect(message).toContain(`\\copy ${table} from ${table}.copy`);
    }
  });

  it('lists the tables parents first, so the copy-in never breaks a foreign key', () => {
    const order = tablesInDependencyOrder();
    const before = (a: string, b: string) => expect(order.indexOf(a)).toBeLessThan(order.indexOf(b));
    before('datasets', 'images');
    before('images', 'features');
    before('datasets', 'runs');
    before('runs', 'models');
    before('models', 'deployments');
    expect(order).toContain('image_blobs');
  });

  it('refuses a cluster of another major version, and a folder that is no cluster', async () => {
    const other = path.join(work, 'pg16');
    await mkdir(path.join(other, 'base'), { recursive: true });
    await writeFile(path.join(other, 'PG_VERSION'), '16\n');
    await writeFile(path.join(other, 'postmaster.opts'), '/usr/lib/postgresql/16/bin/postgres\n');
    await expectRefusal(other, 'other_version', `${other} holds a PostgreSQL 16 cluster`, 'pg_dumpall');

    const notes = path.join(work, 'notes');
    await mkdir(notes);
    await writeFile(path.join(notes, 'todo.txt'), 'keep me');
    await expectRefusal(notes, 'not_a_cluster', `${notes} is not empty`);
  });

  it.runIf(process.getuid?.() === 0)(
    'says which folder the server user cannot enter when running as root',
    async () => {
      const closed = await mkdtemp(path.join(tmpdir(), 'edgehead-closed-')); // mode 0700, owned by root
      try {
        const error = await prepareEmbeddedPostgres({ dataDir: path.join(closed, 'pg') }).catch(
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'permission' });
        expect((error as Error).message).toContain(`cannot enter ${closed} (mode 700)`);
      } finally {
        await rm(closed, { recursive: true, force: true });
      }
    },
  );

  it('leaves nothing listening after stop()', async () => {
    const server = await startEmbeddedPostgres({ durable: false });
    await server.stop();
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(server.port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    expect(free).toBe(true);
  });
});
