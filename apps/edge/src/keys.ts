import type { CreateKeyResponse } from '@edgehead/contracts';
import { sha256Hex, toHex } from '@edgehead/head';

/** What KV keeps per API key (never the key itself). */
interface KeyRecord {
  id: string;
  name: string | null;
  createdAt: string;
}

const hashKey = (hash: string) => `apikey:${hash}`;
const idKey = (id: string) => `apikey-id:${id}`;
// positive lookups are cached per isolate for a few seconds: KV itself is eventually consistent for longer
const CACHE_MS = 5_000;
const cache = new Map<string, { record: KeyRecord; until: number }>();

function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Creates an API key; the key is returned once, KV stores its sha256. */
export async function createApiKey(kv: KVNamespace, name: string | null): Promise<CreateKeyResponse> {
  const id = randomHex(8);
  const key = `ehk_${id}_${randomHex(24)}`;
  const hash = await sha256Hex(new TextEncoder().encode(key));
  const record: KeyRecord = { id, name, createdAt: new Date().toISOString() };
  await kv.put(hashKey(hash), JSON.stringify(record));
  await kv.put(idKey(id), hash);
  return { ...record, key };
}

/** Finds the record of a presented key, or null. */
export async function findApiKey(kv: KVNamespace, key: string): Promise<KeyRecord | null> {
  const hash = await sha256Hex(new TextEncoder().encode(key));
  const hit = cache.get(hash);
  if (hit && hit.until > Date.now()) return hit.record;
  const record = await kv.get<KeyRecord>(hashKey(hash), 'json');
  if (record) cache.set(hash, { record, until: Date.now() + CACHE_MS });
  return record;
}

/** Deletes a key by id; false when no such key. */
export async function deleteApiKey(kv: KVNamespace, id: string): Promise<boolean> {
  const hash = await kv.get(idKey(id));
  if (!hash) return false;
  await kv.delete(hashKey(hash));
  await kv.delete(idKey(id));
  cache.delete(hash);
  return true;
}
