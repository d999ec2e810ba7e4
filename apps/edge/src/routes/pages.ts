import { Hono } from 'hono';
import { sessionOf } from '../auth.ts';
import type { AppEnv } from '../types.ts';

/** What anyone may load: the sign-in page and the built scripts and styles (code, no data). */
const PUBLIC_PATHS = /^\/(signin(\.html)?|assets\/.+)$/;

/** No other site may frame a page of the dashboard (its buttons switch the served model). */
const NO_FRAMING = { 'x-frame-options': 'DENY', 'content-security-policy': "frame-ancestors 'none'" };

/**
 * The dashboard's static assets (every other GET), served by the worker so that the page, like `/api`,
 * needs a signed-in user: without a session (or with an expired or tampered one) the answer is a redirect
 * to `/signin?next=<path>`. A path that is no asset is the JSON 404 of any unknown route.
 */
export const pageRoutes = new Hono<AppEnv>().get('*', async (c) => {
  const asset = await c.env.ASSETS.fetch(c.req.raw);
  if (asset.status === 404) return c.notFound();
  const url = new URL(c.req.url);
  const res = new Response(asset.body, asset);
  for (const [name, value] of Object.entries(NO_FRAMING)) res.headers.set(name, value);
  if (PUBLIC_PATHS.test(url.pathname)) return res;
  const session = await sessionOf(c);
  if (typeof session === 'string') {
    await res.body?.cancel();
    c.header('cache-control', 'no-store');
    return c.redirect(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
  }
  res.headers.set('cache-control', 'private, no-store');
  return res;
});
