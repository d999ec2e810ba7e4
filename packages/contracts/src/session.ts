import { z } from 'zod';

/** Header that carries a dashboard session's CSRF token on the changes it makes (activate, rollback, sign out). */
export const CSRF_HEADER = 'x-csrf-token';

/** `POST /auth/login`: sign in to the dashboard with the edge's admin token. */
export const signInRequest = z.strictObject({
  token: z.string().min(1, 'expected the admin token').max(4096),
});
export type SignInRequest = z.infer<typeof signInRequest>;

/** How a dashboard session was opened: Cloudflare Access, the admin token, or a one-time sign-in link. */
export const sessionVia = z.enum(['access', 'token', 'link']);
export type SessionVia = z.infer<typeof sessionVia>;

/** `GET /auth/session` (and the answer of `POST /auth/login`): who is signed in, until when, and the CSRF token. */
export const sessionResponse = z.object({
  user: z.string(),
  via: sessionVia,
  /** Send it as `x-csrf-token` with every change made through this session. */
  csrfToken: z.string(),
  expiresAt: z.string(),
});
export type SessionResponse = z.infer<typeof sessionResponse>;

/** `POST /admin/sign-in-links`: a dashboard URL that signs its first visitor in (then it is spent). */
export const signInLinkResponse = z.object({ url: z.string(), expiresAt: z.string() });
export type SignInLinkResponse = z.infer<typeof signInLinkResponse>;

/** Answer of `POST /auth/logout`: how the ended session was opened. */
export const signOutResponse = z.object({ signedOut: z.literal(true), via: sessionVia });

/** Query of `GET /auth/link` and form of `POST /auth/link`: the one-time token of a sign-in link. */
export const signInLinkToken = z.object({ token: z.string().max(4096).optional() });
