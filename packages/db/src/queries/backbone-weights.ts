import { eq } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import { backboneWeights } from '../schema/index.ts';

/** Stored backbone weights: a TF.js layers folder's two files with their sha256. */
export type BackboneWeights = typeof backboneWeights.$inferSelect;

/**
 * Stores backbone weights under their identity `sha256` (insert-or-keep: a retried run or a second replica
 * writing the same weights leaves the first row).
 */
export async function saveBackboneWeights(
  db: Db,
  row: Omit<typeof backboneWeights.$inferInsert, 'createdAt'>,
): Promise<void> {
  await db.insert(backboneWeights).values(row).onConflictDoNothing({ target: backboneWeights.sha256 });
}

/** The stored weights of identity `sha256`; throws NotFoundError. */
export async function getBackboneWeights(db: Db, sha256: string): Promise<BackboneWeights> {
  const [row] = await db.select().from(backboneWeights).where(eq(backboneWeights.sha256, sha256));
  if (!row) throw new NotFoundError('backbone weights', sha256);
  return row;
}
