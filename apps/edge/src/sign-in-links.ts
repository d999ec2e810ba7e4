import type { SignInLinkResponse } from '@edgehead/contracts';
import { sha256Hex, toHex } from '@edgehead/head';

/** Seconds a sign-in link stays valid (KV's TTL; at least 60, KV's minimum). */
export const SIGN_IN_LINK_TTL_S = 10 * 60;

const linkKey = (hash: string) => `signin:${hash}`;
const hashOf = (token: string) => sha256Hex(new TextEncoder().encode(token));

/**
 * A one-time dashboard URL (`edgehead up` prints one): a random token whose sha256 KV keeps for
 * SIGN_IN_LINK_TTL_S; `GET /auth/link?token=` exchanges it for a session cookie and deletes it.
 */
export async function createSignInLink(kv: KVNamespace, origin: string): Promise<SignInLinkResponse> {
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = new Date(Date.now() + SIGN_IN_LINK_TTL_S * 1000).toISOString();
  await kv.put(linkKey(await hashOf(token)), JSON.stringify({ expiresAt }), {
    expirationTtl: SIGN_IN_LINK_TTL_S,
  });
  return { url: `${origin}/auth/link?token=${token}`, expiresAt };
}

/**
 * Spends a link's token: true the first time within its TTL. KV is eventually consistent across
 * locations, so "first" holds within one location; the short TTL bounds the rest.
 */
export async function consumeSignInLink(kv: KVNamespace, token: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(token)) return false;
  const key = linkKey(await hashOf(token));
  const record = await kv.get<{ expiresAt: string }>(key, 'json');
  if (!record) return false;
  await kv.delete(key);
  return Date.parse(record.expiresAt) > Date.now();
}
