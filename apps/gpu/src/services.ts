import type { Db } from '@edgehead/db';
import { connect, type Database } from '@edgehead/db/node';
import type { AppDeps } from './deps.ts';
import type { GpuEnv } from './env.ts';
import { registerExtractionWorker } from './extraction/worker.ts';
import { ExtractorRegistry } from './extractors/registry.ts';
import { storedWeightsReader } from './extractors/stored-weights.ts';
import { startQueue } from './queue/index.ts';
import { registerTrainingWorker } from './runs/index.ts';

/**
 * Builds the extractor registry from the service configuration; with `db` it also loads the backbone
 * weights stored there (fine-tuned backbones).
 */
export function registryFromEnv(env: GpuEnv, db?: Db): ExtractorRegistry {
  return new ExtractorRegistry({
    defaultBackbone: env.defaultBackbone,
    userBackbones: env.userBackbones,
    weights: env.weights,
    weightsCache: env.weightsCache,
    poolSize: env.poolSize,
    sharedDir: env.sharedDir,
    ...(db === undefined ? {} : { storedWeights: storedWeightsReader(db) }),
  });
}

/** A running service's dependencies plus how to stop them in order. */
export interface Services {
  deps: AppDeps;
  database: Database;
  stop(): Promise<void>;
}

/**
 * Connects to Postgres (migrating it), starts pg-boss and registers this replica's job workers.
 * Training runs register their workers here too, one line each (see README).
 */
export async function startServices(env: GpuEnv): Promise<Services> {
  const database = await connect();
  const queue = await startQueue(database.sql, { maintenanceIntervalSeconds: env.maintenanceSeconds });
  const deps: AppDeps = {
    db: database.db,
    sql: database.sql,
    queue,
    extractors: registryFromEnv(env, database.db),
    env,
  };
  await registerExtractionWorker(deps, {
    // one line per batch: which replica did what is visible in the logs of a scaled-out deployment
    onJob: (batch, o) =>
      console.log(
        `extract-features ${o.featureSet || batch.featureSetId}: ${batch.imageIds.length} images, ${o.computed} computed, ` +
          `${o.stored} stored, ${o.failed} failed, ${o.skipped} skipped` +
          (o.stopped ? ` (extraction ${o.stopped})` : '') +
          (o.error ? `; extraction ${batch.extractionId} failed: ${o.error}` : ''),
      ),
  });
  await registerTrainingWorker(queue, database.db, {
    extractors: deps.extractors,
    queue: env.training,
    pollSeconds: env.extraction.pollSeconds,
  });
  return {
    deps,
    database,
    async stop() {
      await queue.stop();
      await deps.extractors.dispose();
      await database.close();
    },
  };
}
