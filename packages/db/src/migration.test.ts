// The migrations on databases written by the previous schema: every row is carried over.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { featureSetKey, headManifest } from '@edgehead/contracts';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { fromSql } from './db.ts';
import { getModel, getRunDetail, listExtractions, loadFeatureMatrix } from './index.ts';
import { migrationsFolder } from './migrate.ts';
import { testManifest } from './test-setup.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

let testDb: TestDatabase | undefined;
const work: string[] = [];
afterAll(async () => {
  await testDb?.drop();
  for (const dir of work) await rm(dir, { recursive: true, force: true });
});

/** A migrations folder holding only the first `n` migrations of the real one. */
async function firstMigrations(n: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgehead-migrations-'));
  work.push(dir);
  const journal = JSON.parse(await readFile(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8'));
  journal.entries = journal.entries.slice(0, n);
  await mkdir(path.join(dir, 'meta'));
  await writeFile(path.join(dir, 'meta/_journal.json'), JSON.stringify(journal));
  for (const e of journal.entries)
    await copyFile(path.join(migrationsFolder, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  return dir;
}

describe('migration 0001 (feature sets and extractions)', () => {
  it('turns every stored feature-set key into a legacy feature set that vectors, runs and extractions reference', async () => {
    testDb = await createTestDatabase();
    const sql = postgres(testDb.url, { max: 1, onnotice: () => undefined });
    try {
      await migrate(drizzle(sql), {
        migrationsFolder: await firstMigrations(1),
        migrationsSchema: 'drizzle',
      });
      // the previous schema's rows: two datasets, vectors of three keys (one of a user backbone), two runs
      const [ds] =
        await sql`insert into datasets (name, task, classes) values ('old', 'binary', '["a","b"]') returning id`;
      const [other] =
        await sql`insert into datasets (name, task, classes) values ('old2', 'binary', '["a","b"]') returning id`;
      const image = async (datasetId: string, i: number, split = 'train') =>
        (
          await sql`insert into images (dataset_id, split, label, sha256, width, height, bytes, storage_key)
            values (${datasetId}, ${split}, ${i % 2 ? 'b' : 'a'}, ${`${i}`.padStart(64, '0')}, 2, 2, 2, 'pg:x') returning id`
        )[0]?.id as string;
      const ids = [await image(ds?.id, 1), await image(ds?.id, 2), await image(ds?.id, 3, 'validation')];
      const otherImage = await image(other?.id, 4);
      const vector = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
      for (const [i, id] of ids.entries()) {
        await sql`insert into features (image_id, feature_set, dtype, shape, vector)
          values (${id}, 'mobilenet_v1_0.75+avg', 'float32', '{2}', ${vector([i, i + 0.5])})`;
      }
      await sql`insert into features (image_id, feature_set, dtype, shape, vector)
        values (${ids[0] as string}, 'vgg16@caffe', 'float32', '{1,1,2}', ${vector([7, 8])})`;
      await sql`insert into features (image_id, feature_set, dtype, shape, vector)
        values (${otherImage}, 'mycnn', 'float32', '{3}', ${vector([1, 2, 3])})`;
      const [run] = await sql`insert into runs (dataset_id, feature_set, config, epochs_total)
        values (${ds?.id}, 'mobilenet_v1_0.75+avg', '{}', 1) returning id`;
      const [userRun] = await sql`insert into runs (dataset_id, feature_set, config, epochs_total)
        values (${other?.id}, 'mycnn', '{}', 1) returning id`;
      for (const [r, backbone, pre, shape] of [
        [run?.id, 'mobilenet_v1_0.75+avg', 'tf', [2]],
        [userRun?.id, 'mycnn', 'tf', [3]],
      ] as const) {
        await sql`insert into models (run_id, name, version, artifact_sha256, classes, manifest)
          values (${r}, ${`m-${backbone}`}, 1, ${'d'.repeat(64)}, '["a","b"]',
            ${JSON.stringify(testManifest(r, { backbone, preprocessing: pre, featureShape: [...shape] }))}::jsonb)`;
      }
      const before = await sql`select image_id, md5(vector) as md5 from features order by 1, 2`;

      await migrate(drizzle(sql), { migrationsFolder, migrationsSchema: 'drizzle' });

      const db = fromSql(sql);
      const sets = await sql`select * from feature_sets order by backbone`;
      expect(
        sets.map((s) => [
          s.backbone,
          s.pooling,
          s.preprocessing,
          s.input_size,
          s.feature_layer,
          s.feature_shape,
        ]),
      ).toEqual([
        ['mobilenet_v1_0.75', 'avg', 'tf', [224, 224], 'conv_pw_13_relu', [2]],
        // a user backbone's key without `@`: the preprocessing its head's manifest recorded
        ['mycnn', 'none', 'tf', null, null, [3]],
        ['vgg16', 'none', 'caffe', [150, 150], 'block5_pool', [1, 1, 2]],
      ]);
      expect(sets.every((s) => s.weights_sha256 === null && s.weights_source === 'unrecorded')).toBe(true);
      const extractions = await listExtractions(db);
      expect(
        extractions.map((e) => [e.datasetName, e.featureSet.backbone, e.state, e.done, e.total]).sort(),
      ).toEqual([
        ['old', 'mobilenet_v1_0.75', 'done', 3, 3],
        ['old', 'vgg16', 'idle', 1, 3],
        ['old2', 'mycnn', 'done', 1, 1],
      ]);
      for (const e of extractions) {
        // the records parse, and their key is the one key function's
        expect(e.featureSet.key).toBe(featureSetKey(e.featureSet));
        expect(e.featureSet.key.endsWith('/legacy')).toBe(true);
      }
      expect(await sql`select image_id, md5(vector) as md5 from features order by 1, 2`).toEqual(before);
      const mobilenet = extractions.find((e) => e.featureSet.backbone === 'mobilenet_v1_0.75')?.featureSet;
      const matrix = await loadFeatureMatrix(db, ds?.id, mobilenet?.id as string, 'train');
      expect(Array.from(matrix.data).sort()).toEqual([0, 0.5, 1, 1.5]);
      expect((await getRunDetail(db, run?.id)).run).toMatchObject({
        featureSetId: mobilenet?.id,
        featureSet: 'mobilenet_v1_0.75+avg@tf#legacy',
      });
      const [model] = await sql`select id from models where run_id = ${run?.id}`;
      expect(headManifest.parse((await getModel(db, model?.id)).manifest).format).toBe('edgehead-head/1');
    } finally {
      await sql.end();
    }
  });
});

describe('migration 0002 (augmented copies)', () => {
  it('keeps every stored vector as copy 0 and lets an augmented feature set hold several copies per image', async () => {
    const own = await createTestDatabase();
    const sql = postgres(own.url, { max: 1, onnotice: () => undefined });
    try {
      await migrate(drizzle(sql), {
        migrationsFolder: await firstMigrations(2),
        migrationsSchema: 'drizzle',
      });
      const [ds] =
        await sql`insert into datasets (name, task, classes) values ('d', 'binary', '["a","b"]') returning id`;
      const [img] =
        await sql`insert into images (dataset_id, split, label, sha256, width, height, bytes, storage_key)
        values (${ds?.id}, 'train', 'a', ${'e'.repeat(64)}, 2, 2, 2, 'pg:x') returning id`;
      const [fs] =
        await sql`insert into feature_sets (key, backbone, weights_source, pooling, preprocessing, feature_shape)
        values ('k', 'b', 's', 'none', 'rescale', '{2}') returning id`;
      await sql`insert into features (image_id, feature_set_id, dtype, shape, vector)
        values (${img?.id}, ${fs?.id}, 'float32', '{2}', ${Buffer.from(new Float32Array([1, 2]).buffer)})`;
      const before = await sql`select image_id, feature_set_id, md5(vector) as md5 from features`;

      await migrate(drizzle(sql), { migrationsFolder, migrationsSchema: 'drizzle' });

      const after = await sql`select image_id, feature_set_id, md5(vector) as md5, copy from features`;
      expect(after).toEqual(before.map((r) => ({ ...r, copy: 0 })));
      await sql`insert into features (image_id, feature_set_id, copy, dtype, shape, vector)
        values (${img?.id}, ${fs?.id}, 1, 'float32', '{2}', ${Buffer.from(new Float32Array([3, 4]).buffer)})`;
      await expect(
        sql`insert into features (image_id, feature_set_id, copy, dtype, shape, vector)
          values (${img?.id}, ${fs?.id}, 1, 'float32', '{2}', ${Buffer.from(new Float32Array([5, 6]).buffer)})`,
      ).rejects.toThrow(/duplicate key/);
    } finally {
      await sql.end();
      await own.drop();
    }
  });
});
