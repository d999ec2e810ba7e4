import { DurableObject } from 'cloudflare:workers';
import type { SignInLinkResponse } from '@edgehead/contracts';
import { sha256Hex, toHex } from '@edgehead/head';

/** Seconds a sign-in link stays valid. */
export const SIGN_IN_LINK_TTL_S = 10 * 60;

/** What a link's token looks like (32 random bytes in hex). */
export const SIGN_IN_TOKEN = /^[0-9a-f]{64}$/;

const hashOf = (token: string) => sha256Hex(new TextEncoder().encode(token));

/**
 * The unspent sign-in links, by the sha256 of their token, with when each expires (ms). One object holds
 * them all: a Durable Object runs one call at a time, so reading and deleting a link is one step and two
 * requests racing with the same link cannot both spend it (KV's get-then-delete could, within a location
 * too).
 */
export class SignInLinks extends DurableObject<Env> {
  /** Records a link (and forgets the expired ones). */
  async issue(hash: string, expiresAtMs: number): Promise<void> {
    const now = Date.now();
    const all = await this.ctx.storage.list<number>();
    const expired = [...all].filter(([, at]) => at <= now).map(([key]) => key);
    if (expired.length > 0) await this.ctx.storage.delete(expired);
    await this.ctx.storage.put(hash, expiresAtMs);
  }

  /** Spends a link: true the first time within its lifetime, false ever after (or when unknown). */
  async spend(hash: string): Promise<boolean> {
    const expiresAt = await this.ctx.storage.get<number>(hash);
    if (expiresAt === undefined) return false;
    await this.ctx.storage.delete(hash);
    return expiresAt > Date.now();
  }
}

const linksOf = (ns: DurableObjectNamespace<SignInLinks>) => ns.getByName('sign-in-links');

/**
 * A one-time dashboard URL (`edgehead up` prints one): a random token whose sha256 the SignInLinks object
 * keeps for SIGN_IN_LINK_TTL_S. Opening it shows a page whose button spends it (`POST /auth/link`), so a
 * link preview that fetches the URL does not use it up.
 */
export async function createSignInLink(
  ns: DurableObjectNamespace<SignInLinks>,
  origin: string,
): Promise<SignInLinkResponse> {
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAtMs = Date.now() + SIGN_IN_LINK_TTL_S * 1000;
  await linksOf(ns).issue(await hashOf(token), expiresAtMs);
  return { url: `${origin}/auth/link?token=${token}`, expiresAt: new Date(expiresAtMs).toISOString() };
}

/** Spends a link's token: true exactly once within its lifetime, across every location. */
export async function spendSignInLink(
  ns: DurableObjectNamespace<SignInLinks>,
  token: string,
): Promise<boolean> {
  if (!SIGN_IN_TOKEN.test(token)) return false;
  return linksOf(ns).spend(await hashOf(token));
}
