// Standard PostgreSQL clients (psql, pg_dump, pgbench) against the database of a running `edgehead up`,
// as users point them at it to query runs or take a backup, while the gpu service extracts features.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@edgehead/cli';
import type { ExtractionProgress, RunDetailResponse, RunList } from '@edgehead/contracts';
import { EMBEDDED_POSTGRES_MAJOR, tablesInDependencyOrder } from '@edgehead/db/node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inheritedEnv } from './env.ts';
import { writeDataset, writeTinyBackbone } from './fixtures.ts';
import { cliJson, embeddedUpEnv, eventually, type Running, startUp } from './system.ts';

const run = promisify(execFile);

/** Seconds of each pgbench run. */
const BENCH_SECONDS = 3;

describe('standard PostgreSQL clients against a running system', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let running: Running | null = null;
  let config: { gpuUrl: string; edgeUrl: string; gpuToken: string; adminToken: string; databaseUrl: string };
  /** libpq's variables for the embedded server (the password stays out of command lines). */
  let pgEnv: NodeJS.ProcessEnv;
  let sql: postgres.Sql;

  const client = async (program: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const { stdout, stderr } = await run(program, args, {
      env: { ...pgEnv, ...extra },
      maxBuffer: 256 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  };

  /**
   * Every project table's row count and an md5 of its rows; features and extractions only those of `dataset`
   * (the test extracts another dataset meanwhile).
   */
  const fingerprint = async (dataset: string) => {
    const out: Record<string, string> = {};
    for (const table of tablesInDependencyOrder()) {
      const rows =
        table === 'features'
          ? sql`select count(*)::int as n, md5(coalesce(string_agg(f::text, ',' order by f::text), '')) as h
                from features f join images i on i.id = f.image_id where i.dataset_id = ${dataset}`
          : table === 'extractions'
            ? sql`select count(*)::int as n, md5(coalesce(string_agg(e::text, ',' order by e::text), '')) as h
                  from extractions e where e.dataset_id = ${dataset}`
            : sql`select count(*)::int as n, md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as h
                  from ${sql(table)} t`;
      const [row] = await rows;
      out[table] = `${row?.n} ${row?.h}`;
    }
    return out;
  };

  beforeAll(async () => {
    for (const tool of ['psql', 'pg_dump', 'pgbench']) {
      await run(tool, ['--version']).catch(() => {
        throw new Error(
          `${tool} is not installed: this test needs psql, pg_dump and pgbench ${EMBEDDED_POSTGRES_MAJOR} or newer ` +
            '(Debian: apt-get install postgresql-client postgresql; .ci/run installs them)',
        );
      });
    }
    work = await mkdtemp(path.join(tmpdir(), 'edgehead-clients-'));
    await chmod(work, 0o755); // as root the embedded server runs as 'postgres', which must reach <home>/pg
    await writeTinyBackbone(path.join(work, 'tiny'));
    await writeDataset(path.join(work, 'first'));
    await writeDataset(path.join(work, 'second'), { train: 120, validation: 15, test: 15 });
    env = {
      ...embeddedUpEnv(work),
      // small jobs, so that the second dataset's extraction is still going while the clients run
      EDGEHEAD_EXTRACT_BATCH: '4',
    };
    const [gpu, edge, db] = await Promise.all([freePort(), freePort(), freePort()]);
    running = await startUp(
      ['--gpu-port', String(gpu), '--edge-port', String(edge), '--db-port', String(db)],
      env,
    );
    config = JSON.parse(await readFile(path.join(work, 'home', 'config.json'), 'utf8'));
    const url = new URL(config.databaseUrl);
    pgEnv = {
      ...inheritedEnv(),
      PGHOST: url.hostname,
      PGPORT: url.port,
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: url.pathname.slice(1),
    };
    sql = postgres(config.databaseUrl, { max: 2, onnotice: () => undefined });
  });

  afterAll(async () => {
    await sql?.end();
    const code = await running?.stop();
    expect(code).toBe(0);
    await rm(work, { recursive: true, force: true });
  });

  it('runs psql, pg_dump and pgbench (COPY, simple, extended, prepared) during an extraction and changes none of its rows', async () => {
    // the project's rows: a dataset with vectors, a trained run with epochs and evaluations, a published model
    const first = await cliJson<{ datasetId: string }>(
      ['ingest', path.join(work, 'first'), '--dataset', 'first'],
      env,
    );
    await cliJson(['extract', '--dataset', 'first', '--backbone', 'tiny'], env);
    const trained = await cliJson<RunDetailResponse>(
      ['train', '--dataset', 'first', '--backbone', 'tiny', '--preset', 'edgehead-default', '--epochs', '5'],
      env,
    );
    expect(trained.run.status).toBe('succeeded');
    await cliJson(['publish', trained.run.id, '--alias', 'first'], env);
    const second = await cliJson<{ datasetId: string; accepted: number }>(
      ['ingest', path.join(work, 'second'), '--dataset', 'second'],
      env,
    );
    const before = await fingerprint(first.datasetId);
    expect(before.epochs).toMatch(/^5 /);

    const started = await cliJson<{ queuedImages: number }>(
      ['extract', '--dataset', 'second', '--backbone', 'tiny', '--no-wait'],
      env,
    );
    expect(started.queuedImages).toBe(second.accepted);
    const progress = async () => {
      const res = await fetch(`${config.gpuUrl}/v1/datasets/${second.datasetId}/extract?backbone=tiny`, {
        headers: { authorization: `Bearer ${config.gpuToken}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as ExtractionProgress;
    };

    // psql: what users do to look at runs
    const counted = await client('psql', ['-v', 'ON_ERROR_STOP=1', '-Atc', 'select count(*) from images']);
    expect(Number(counted.trim())).toBe(80 + second.accepted);

    // pg_dump: schema and data of every table while the gpu service writes vectors
    const dump = path.join(work, 'backup.sql');
    await client('pg_dump', ['--file', dump]);
    const text = await readFile(dump, 'utf8');
    expect(text).toContain('CREATE TABLE public.runs');
    const copied = /COPY public\.images \([^)]*\) FROM stdin;\n([\s\S]*?)\n\\\.\n/.exec(text)?.[1];
    expect(copied?.split('\n').length).toBe(80 + second.accepted);
    // the dump's empty search_path stayed on its own connection
    expect((await client('psql', ['-Atc', 'select count(*) from runs'])).trim()).toBe('1');

    // pgbench in a schema of its own, which it reaches through search_path on every connection
    await client('psql', ['-v', 'ON_ERROR_STOP=1', '-c', 'create schema pgbench']);
    const inSchema = { PGOPTIONS: '-c search_path=pgbench' };
    expect((await progress()).state).not.toBe('done'); // the extraction is still going
    const init = await client('pgbench', ['-i', '-s', '1'], inSchema); // client-side COPY FROM STDIN
    expect(init).toContain('done in');
    for (const mode of ['simple', 'extended', 'prepared']) {
      const out = await client(
        'pgbench',
        ['-M', mode, '-c', '4', '-j', '2', '-T', String(BENCH_SECONDS)],
        inSchema,
      );
      expect(out, out).toMatch(/number of failed transactions: 0 \(/);
      expect(Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
    }
    const [accounts] = await sql`select count(*)::int as n from pgbench.pgbench_accounts`;
    expect(accounts?.n).toBe(100_000);
    const [strays] = await sql`select count(*)::int as n from pg_tables where tablename like 'pgbench%'
                                 and schemaname <> 'pgbench'`;
    expect(strays?.n).toBe(0);
    await client('psql', ['-v', 'ON_ERROR_STOP=1', '-c', 'drop schema pgbench cascade']);

    // the extraction finished with every vector, and the earlier rows are exactly as they were
    const done = await eventually('the second extraction', async () => {
      const p = await progress();
      return p.state === 'done' ? p : undefined;
    });
    expect(done).toMatchObject({ total: second.accepted, done: second.accepted, failed: 0 });
    expect(await fingerprint(first.datasetId)).toEqual(before);

    // and the services still answer from the database
    const runs = await fetch(`${config.gpuUrl}/v1/runs`, {
      headers: { authorization: `Bearer ${config.gpuToken}` },
    });
    expect(runs.status).toBe(200);
    expect(((await runs.json()) as RunList).items.map((r) => r.id)).toContain(trained.run.id);
    const dashboard = await fetch(`${config.edgeUrl}/api/runs`, {
      headers: { authorization: `Bearer ${config.adminToken}` },
    });
    expect(dashboard.status).toBe(200);
    expect(JSON.stringify(await dashboard.json())).toContain(trained.run.id);
  });
});
