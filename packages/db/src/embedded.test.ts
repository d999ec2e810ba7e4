import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { connect as connectDatabase } from './client.ts';
import { EmbeddedPostgresError, startEmbeddedPostgres } from './embedded.ts';
import { createDataset, getDataset } from './index.ts';
import { applyMigrations } from './migrate.ts';

describe('embedded Postgres', () => {
  it('keeps data across a restart of the embedded database', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'edgehead-pg-'));
    try {
      const first = await connectDatabase({ embedded: true, dataDir });
      expect(first.embedded).not.toBeNull();
      await createDataset(first.db, { name: 'survives', classes: ['a', 'b'] });
      await first.close();

      const second = await connectDatabase({ embedded: true, dataDir });
      expect((await getDataset(second.db, 'survives')).classes).toEqual(['a', 'b']);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('applies migrations once: a second run changes nothing', async () => {
    const embedded = await startEmbeddedPostgres();
    const database = await connectDatabase({ url: embedded.url });
    try {
      const count = () =>
        database.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      const before = (await count())[0]?.n;
      await Promise.all([applyMigrations(embedded.url), applyMigrations(embedded.url)]);
      expect((await count())[0]?.n).toBe(before);
      expect(before).toBeGreaterThan(0);
    } finally {
      await database.close();
      await embedded.stop();
    }
  });

  it('serves many connections at once without mixing their queries or transactions', async () => {
    const embedded = await startEmbeddedPostgres();
    const client = postgres(embedded.url, { max: 8, prepare: false, onnotice: () => undefined });
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
      const [row] = await client`select count(*)::int as n, sum(n)::int as s from counter`;
      expect(row).toEqual({ n: 6, s: 1 + 2 + 4 + 5 + 7 + 8 });
    } finally {
      await client.end();
      await embedded.stop();
    }
  });

  it('carries large values and survives a client that sends garbage', async () => {
    const embedded = await startEmbeddedPostgres();
    const client = postgres(embedded.url, { max: 2, prepare: false, onnotice: () => undefined });
    try {
      const big = Buffer.alloc(6 * 1024 * 1024, 7);
      big.writeUInt32LE(0xdeadbeef, big.length - 4);
      const [row] = await client`select ${big}::bytea as b`;
      expect(Buffer.compare(row?.b as Buffer, big)).toBe(0);

      const garbage = connect({ host: '127.0.0.1', port: embedded.port });
      await new Promise<void>((resolve) => garbage.once('connect', () => resolve()));
      garbage.write(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
      await new Promise<void>((resolve) => garbage.once('close', () => resolve()));
      expect(await client`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
      await embedded.stop();
    }
  });

  it('says which port is busy when it cannot listen', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await startEmbeddedPostgres({ port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddedPostgresError);
      expect((error as Error).message).toContain(`127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });
});
