import type { HeadManifest } from '@edgehead/contracts';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import { deployments, modelFiles, models } from '../schema/index.ts';

export type Model = typeof models.$inferSelect;
export type ModelFile = typeof modelFiles.$inferSelect;
export type Deployment = typeof deployments.$inferSelect;

/**
 * Registers a run's trained head as the next version of model `name`, with its artifact files,
 * in one transaction (versions are numbered per name without gaps or races).
 */
export async function registerModel(
  db: Db,
  input: {
    runId: string;
    name: string;
    manifest: HeadManifest;
    artifactSha256: string;
    files: { path: string; sha256: string; data: Uint8Array }[];
  },
): Promise<Model> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`models:${input.name}`}))`);
    const [latest] = await tx
      .select({ version: sql<number>`coalesce(max(${models.version}), 0)`.mapWith(Number) })
      .from(models)
      .where(eq(models.name, input.name));
    const [model] = await tx
      .insert(models)
      .values({
        runId: input.runId,
        name: input.name,
        version: (latest?.version ?? 0) + 1,
        artifactSha256: input.artifactSha256,
        classes: input.manifest.classes,
        threshold: input.manifest.threshold,
        manifest: input.manifest,
      })
      .returning();
    const saved = model as Model;
    await tx.insert(modelFiles).values(input.files.map((f) => ({ ...f, modelId: saved.id })));
    return saved;
  });
}

/** One model; throws NotFoundError. */
export async function getModel(db: Db, id: string): Promise<Model> {
  const [row] = await db.select().from(models).where(eq(models.id, id));
  if (!row) throw new NotFoundError('model', id);
  return row;
}

/** The artifact files of a model (model.json, weights.bin, manifest.json). */
export async function getModelFiles(db: Db, modelId: string): Promise<ModelFile[]> {
  await getModel(db, modelId);
  return db.select().from(modelFiles).where(eq(modelFiles.modelId, modelId)).orderBy(modelFiles.path);
}

/** Models, newest first, optionally of one name. */
export function listModels(db: Db, options: { name?: string; limit?: number } = {}): Promise<Model[]> {
  return db
    .select()
    .from(models)
    .where(options.name ? eq(models.name, options.name) : undefined)
    .orderBy(desc(models.createdAt))
    .limit(options.limit ?? 100);
}

/**
 * Records that a model version was published to the edge under `alias`; with `active` it becomes the
 * alias' only active deployment (the previous one is deactivated in the same transaction).
 */
export async function recordDeployment(
  db: Db,
  input: { modelId: string; alias: string; edgeVersion: string; active: boolean; activatedBy?: string },
): Promise<Deployment> {
  return db.transaction(async (tx) => {
    if (input.active) {
      await tx
        .update(deployments)
        .set({ active: false })
        .where(and(eq(deployments.alias, input.alias), eq(deployments.active, true)));
    }
    const [row] = await tx
      .insert(deployments)
      .values({ ...input, activatedBy: input.activatedBy ?? null })
      .onConflictDoUpdate({
        target: [deployments.alias, deployments.edgeVersion],
        set: { modelId: input.modelId, active: input.active, activatedBy: input.activatedBy ?? null },
      })
      .returning();
    return row as Deployment;
  });
}

/** Marks `edgeVersion` the active deployment of `alias` (mirrors an activate or rollback at the edge). */
export async function activateDeployment(
  db: Db,
  alias: string,
  edgeVersion: string,
  activatedBy: string,
): Promise<Deployment> {
  return db.transaction(async (tx) => {
    await tx
      .update(deployments)
      .set({ active: false })
      .where(and(eq(deployments.alias, alias), eq(deployments.active, true)));
    const [row] = await tx
      .update(deployments)
      .set({ active: true, activatedBy })
      .where(and(eq(deployments.alias, alias), eq(deployments.edgeVersion, edgeVersion)))
      .returning();
    if (!row) throw new NotFoundError('deployment', `${alias}@${edgeVersion}`);
    return row;
  });
}

/** Deployments, newest first, optionally of one alias. */
export function listDeployments(db: Db, alias?: string): Promise<Deployment[]> {
  return db
    .select()
    .from(deployments)
    .where(alias ? eq(deployments.alias, alias) : undefined)
    .orderBy(desc(deployments.createdAt));
}
