import { activateDeployment, DbError } from '@edgehead/db';
import { openDatabase } from './database.ts';
import { workerdSocket } from './workerd-socket.ts';

/** One switch of an alias's active version, as the deployments table records it. */
export interface ActivationChange {
  alias: string;
  version: string;
  by: 'activate' | 'rollback' | 'publish';
}

/** Seconds a connection attempt may take, and how long the whole write may take before it counts as failed. */
const CONNECT_TIMEOUT_S = 3;
const DEADLINE_MS = 5_000;

class MirrorTimeout extends Error {
  readonly code = 'mirror_timeout';
  constructor() {
    super(`Postgres did not answer within ${DEADLINE_MS / 1000} s`);
    this.name = 'MirrorTimeout';
  }
}

/**
 * Mirrors a switch of the KV registry into Postgres' `deployments` table (through Hyperdrive), so that the
 * dashboard, the CLI and the gpu service see the same active version whichever of them switched it. KV is
 * the source of truth and has already changed: this runs from the registry writer's alarm, never while a
 * client waits. Returns null when done (also when the version has no deployment row: a version published
 * by another tool has nothing to mirror), else the failure, for the caller to retry.
 */
export async function mirrorActivation(
  connectionString: string,
  change: ActivationChange,
): Promise<Error | null> {
  const { db, release } = openDatabase(connectionString, {
    connectTimeoutS: CONNECT_TIMEOUT_S,
    socket: workerdSocket,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      activateDeployment(db, change.alias, change.version, change.by),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MirrorTimeout()), DEADLINE_MS);
      }),
    ]);
    return null;
  } catch (err) {
    if (err instanceof DbError && err.code === 'not_found') return null;
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    clearTimeout(timer);
    await release();
  }
}
