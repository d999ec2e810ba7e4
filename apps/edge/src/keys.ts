import type { CreateKeyResponse } from '@edgehead/contracts';
import { sha256Hex, toHex } from '@edgehead/head';

/** What KV keeps per API key (never the key itself). */
export interface KeyRecord {
  id: string;
  name: string | null;
  createdAt: string;
}

const hashKey = (hash: string) => `apikey:${hash}`;
const idKey = (id: string) => `apikey-id:${id}`;
// Positive lookups are cached per isolate for a few seconds, by the presented key, so the hot path costs
// neither a sha256 nor a KV read. A revoke drops the entry in the isolate that ran it at once; other
// isolates keep accepting the key until their entry expires (CACHE_MS), plus KV's own propagation delay.
const CACHE_MS = 5_000;
const MAX_CACHED = 1_000;
const cache = new Map<string, { record: KeyRecord; hash: string; until: number }>();

function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

const hashOf = (key: string) => sha256Hex(new TextEncoder().encode(key));

/** Creates an API key; the key is returned once, KV stores its sha256. */
export async function createApiKey(kv: KVNamespace, name: string | null): Promise<CreateKeyResponse> {
  const id = randomHex(8);
  const key = `ehk_${id}_${randomHex(24)}`;
  const hash = await hashOf(key);
  const record: KeyRecord = { id, name, createdAt: new Date().toISOString() };
  await kv.put(hashKey(hash), JSON.stringify(record));
  await kv.put(idKey(id), hash);
  return { ...record, key };
}

/** Finds the record of a presented key, or null (unknown keys are not cached: a new key works at once). */
export async function findApiKey(kv: KVNamespace, key: string): Promise<KeyRecord | null> {
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.record;
  const hash = await hashOf(key);
  const record = await kv.get<KeyRecord>(hashKey(hash), 'json');
  if (record) {
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, { record, hash, until: Date.now() + CACHE_MS });
  } else cache.delete(key);
  return record;
}

/** Deletes a key by id (revocation, immediate in this isolate); false when no such key. */
export async function deleteApiKey(kv: KVNamespace, id: string): Promise<boolean> {
  const hash = await kv.get(idKey(id));
  if (!hash) return false;
  await kv.delete(hashKey(hash));
  await kv.delete(idKey(id));
  for (const [key, entry] of cache) if (entry.hash === hash) cache.delete(key);
  return true;
}
