import { activateDeployment, DbError } from '@edgehead/db';
import { openDatabase } from './database.ts';

/** Seconds an activation waits for Postgres before answering without the mirror. */
const CONNECT_TIMEOUT_S = 3;

/**
 * Mirrors an activation or rollback of the KV registry into Postgres' `deployments` table (through
 * Hyperdrive), so that the dashboard, the CLI and the gpu service see the same active version whichever
 * of them switched it. Best effort: the registry is the source of truth and has already changed, so a
 * version with no deployment row (published by another tool) or an unreachable database only logs.
 */
export async function recordActivation(
  env: { HYPERDRIVE: { connectionString: string } },
  executionCtx: () => { waitUntil(promise: Promise<unknown>): void },
  change: { alias: string; version: string; by: 'activate' | 'rollback' | 'publish' },
): Promise<void> {
  const { db, release } = openDatabase(env.HYPERDRIVE.connectionString, executionCtx, CONNECT_TIMEOUT_S);
  try {
    await activateDeployment(db, change.alias, change.version, change.by);
  } catch (err) {
    if (!(err instanceof DbError && err.code === 'not_found')) {
      console.warn(
        `deployments: ${change.by} of ${change.alias}@${change.version} not recorded in Postgres: ${(err as Error).message}`,
      );
    }
  } finally {
    await release();
  }
}
