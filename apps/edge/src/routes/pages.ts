import { Hono } from 'hono';
import { sessionOf } from '../auth.ts';
import type { AppEnv } from '../types.ts';

/** What anyone may load: the sign-in page and the built scripts and styles (code, no data). */
const PUBLIC_PATHS = /^\/(signin(\.html)?|assets\/.+)$/;

/**
 * The dashboard's static assets (every other GET), served by the worker so that the page, like `/api`,
 * needs a signed-in user: without a session (or with an expired or tampered one) the answer is a redirect
 * to `/signin?next=<path>`. A path that is no asset is the JSON 404 of any unknown route.
 */
export const pageRoutes = new Hono<AppEnv>().get('*', async (c) => {
  const asset = await c.env.ASSETS.fetch(c.req.raw);
  if (asset.status === 404) return c.notFound();
  const url = new URL(c.req.url);
  if (PUBLIC_PATHS.test(url.pathname)) return asset;
  await asset.body?.cancel();
  const session = await sessionOf(c);
  if (typeof session === 'string') {
    c.header('cache-control', 'no-store');
    return c.redirect(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
  }
  const page = await c.env.ASSETS.fetch(c.req.raw);
  const res = new Response(page.body, page);
  res.headers.set('cache-control', 'private, no-store');
  return res;
});
