import { isConnectionError } from '@edgehead/db';
import PgBoss from 'pg-boss';
import type { Sql } from 'postgres';
import { retryOnConnectionLoss } from './connection.ts';

/**
 * pg-boss's worker loop completes or fails a job without awaiting the promise: when the database is away
 * that rejection is unhandled, which the tfjs wasm backend's handler turns into a crash. These two
 * statements (complete/fail by job id) are recognised and, after the retry window, given up quietly: the
 * job stays active, expires and is retried, and every job of this service is safe to run again.
 */
const FIRE_AND_FORGET = [
  /SET completed_on = now\(\),\s+state = 'completed'/,
  /id IN \(SELECT UNNEST\(\$2::uuid\[\]\)\) AND state < 'completed'/,
];

/** Whether pg-boss drops the promise of this statement (see FIRE_AND_FORGET). */
export function isFireAndForget(text: string): boolean {
  return FIRE_AND_FORGET.some((re) => re.test(text));
}

/** pg-boss on our postgres.js client, so the service has one driver (no `pg` pool). */
export interface JobQueue {
  boss: PgBoss;
  /** Creates a queue if it does not exist yet (pg-boss 10 needs one before `send`/`work`). */
  ensureQueue(name: string, options?: Omit<PgBoss.Queue, 'name'>): Promise<void>;
  stop(): Promise<void>;
}

/** Options of `startQueue`. */
export interface StartQueueOptions {
  /** Run pg-boss maintenance (expiry, archiving) in this process; every replica may, pg-boss coordinates. */
  supervise?: boolean;
  /** Seconds between maintenance runs (pg-boss default 120). */
  maintenanceIntervalSeconds?: number;
}

function toParam(value: unknown): unknown {
  if (value === undefined) return null;
  // pg passes plain objects as JSON; postgres.js would stringify them as "[object Object]".
  if (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Date) &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value)
  ) {
    return JSON.stringify(value);
  }
  return value;
}

/**
 * The `db` adapter pg-boss calls: parameterless scripts go through the simple protocol (many statements).
 * A lost connection is waited out for `retryWindowMs` (pg-boss statements are safe to repeat: fetches skip
 * locked rows, completions check the job state, scripts run in their own transaction).
 */
export function pgBossDb(sql: Sql, options: { retryWindowMs?: number } = {}): PgBoss.Db {
  const run = async (text: string, values?: unknown[]) => {
    if (values === undefined || values.length === 0) {
      // Install/migrate scripts carry their own BEGIN/COMMIT, which postgres.js allows only on a
      // reserved connection.
      const reserved = await sql.reserve();
      try {
        const result = await reserved.unsafe(text).simple();
        return { rows: Array.isArray(result) ? [...result] : [] };
      } finally {
        reserved.release();
      }
    }
    const rows = await sql.unsafe(text, values.map(toParam) as never[]);
    return { rows: [...rows] };
  };
  return {
    async executeSql(text: string, values?: unknown[]) {
      try {
        return await retryOnConnectionLoss(() => run(text, values), {
          windowMs: options.retryWindowMs ?? 30_000,
        });
      } catch (err) {
        if (!isConnectionError(err) || !isFireAndForget(text)) throw err;
        console.error(
          `pg-boss: database unreachable, job completion left to expiry: ${(err as Error).message}`,
        );
        return { rows: [{ count: 0 }] };
      }
    },
  };
}

/**
 * Starts pg-boss in the `pgboss` schema of the same Postgres (installing or migrating it once, under
 * pg-boss's own advisory lock, so replicas can start together).
 * @example const queue = await startQueue(database.sql); await queue.ensureQueue('extract-features');
 */
export async function startQueue(sql: Sql, options: StartQueueOptions = {}): Promise<JobQueue> {
  const boss = new PgBoss({
    db: pgBossDb(sql),
    supervise: options.supervise ?? true,
    schedule: false,
    ...(options.maintenanceIntervalSeconds === undefined
      ? {}
      : { maintenanceIntervalSeconds: options.maintenanceIntervalSeconds }),
  });
  boss.on('error', (err) => console.error(`pg-boss: ${err.message}`));
  await boss.start();
  const known = new Set<string>();
  return {
    boss,
    async ensureQueue(name, queueOptions = {}) {
      if (known.has(name)) return;
      if ((await boss.getQueue(name)) === null) {
        try {
          await boss.createQueue(name, { name, ...queueOptions });
        } catch (err) {
          // Another replica created it between our check and our insert.
          if ((await boss.getQueue(name)) === null) throw err;
        }
      }
      known.add(name);
    },
    async stop() {
      await boss.stop({ graceful: true, close: false, timeout: 10_000 });
    },
  };
}
