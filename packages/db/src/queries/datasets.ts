import type { Split, Task } from '@edgehead/contracts';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { ConflictError, InvalidInputError, isUniqueViolation, NotFoundError } from '../errors.ts';
import { datasets, imageBlobs, images } from '../schema/index.ts';

export type Dataset = typeof datasets.$inferSelect;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Creates a dataset; `task` follows from the number of classes unless given. */
export async function createDataset(
  db: Db,
  input: { name: string; classes: string[]; task?: Task | undefined },
): Promise<Dataset> {
  const classes = input.classes.map((c) => c.trim());
  if (!input.name.trim()) throw new InvalidInputError('name', 'must not be empty');
  if (classes.length < 2)
    throw new InvalidInputError('classes', `needs at least 2 classes, got ${classes.length}`);
  if (classes.some((c) => !c)) throw new InvalidInputError('classes', 'class names must not be empty');
  if (new Set(classes).size !== classes.length)
    throw new InvalidInputError('classes', 'class names must be unique');
  const task = input.task ?? (classes.length === 2 ? 'binary' : 'multiclass');
  if (task === 'binary' && classes.length !== 2) {
    throw new InvalidInputError('task', `binary needs exactly 2 classes, got ${classes.length}`);
  }
  try {
    const [row] = await db.insert(datasets).values({ name: input.name.trim(), classes, task }).returning();
    return row as Dataset;
  } catch (error) {
    if (isUniqueViolation(error))
      throw new ConflictError(`dataset '${input.name}' already exists`, { field: 'name' });
    throw error;
  }
}

/** Finds a dataset by id or by name; throws NotFoundError. */
export async function getDataset(db: Db, idOrName: string): Promise<Dataset> {
  const where = UUID.test(idOrName) ? eq(datasets.id, idOrName) : eq(datasets.name, idOrName);
  const [row] = await db.select().from(datasets).where(where);
  if (!row) throw new NotFoundError('dataset', idOrName);
  return row;
}

/** Every dataset with its image count per split, newest first (contracts' `datasetSummary`). */
export async function listDatasets(db: Db): Promise<(Dataset & { counts: Record<Split, number> })[]> {
  const rows = await db
    .select({
      dataset: datasets,
      train: sql<number>`count(${images.id}) filter (where ${images.split} = 'train')`.mapWith(Number),
      validation: sql<number>`count(${images.id}) filter (where ${images.split} = 'validation')`.mapWith(
        Number,
      ),
      test: sql<number>`count(${images.id}) filter (where ${images.split} = 'test')`.mapWith(Number),
    })
    .from(datasets)
    .leftJoin(images, eq(images.datasetId, datasets.id))
    .groupBy(datasets.id)
    .orderBy(sql`${datasets.createdAt} desc`);
  return rows.map((r) => ({
    ...r.dataset,
    counts: { train: r.train, validation: r.validation, test: r.test },
  }));
}

/** Deletes a dataset with its images, features, runs and models (foreign keys cascade). */
export async function deleteDataset(db: Db, idOrName: string): Promise<Dataset> {
  const dataset = await getDataset(db, idOrName);
  await db.transaction(async (tx) => {
    await tx.delete(datasets).where(eq(datasets.id, dataset.id));
    // Blobs are shared by content hash across datasets: drop only those no image points at any more.
    await tx.execute(
      sql`delete from ${imageBlobs} b where not exists (select 1 from ${images} i where i.storage_key = 'pg:' || b.sha256)`,
    );
  });
  return dataset;
}
