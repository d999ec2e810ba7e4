import { SELF } from 'cloudflare:test';
import type { ClassifyResponse, CreateKeyResponse, SessionResponse } from '@edgehead/contracts';
import { inject } from 'vitest';
import type { Fixture } from './global-setup.ts';

export const ADMIN = { authorization: 'Bearer test-admin-token' };

/** Sends a request to the worker under test. */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return SELF.fetch(`http://edge.test${path}`, init);
}

/** The fixtures built in Node by global-setup.ts. */
export const fixtures = inject('fixtures');

/** Decodes a fixture's base64 files. */
export function filesOf(f: Fixture): Record<string, Uint8Array> {
  return Object.fromEntries(
    Object.entries(f.files).map(([name, b64]) => [
      name,
      Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)),
    ]),
  );
}

/** A multipart publish body of an artifact, optionally with one file replaced. */
export function publishForm(f: Fixture, replace: Record<string, Uint8Array> = {}): FormData {
  const form = new FormData();
  for (const [name, bytes] of Object.entries({ ...filesOf(f), ...replace }))
    form.append(name, new Blob([bytes]), name);
  return form;
}

export async function publish(alias: string, version: string, f: Fixture, query = ''): Promise<Response> {
  return call(`/admin/models/${alias}/versions/${version}${query}`, {
    method: 'PUT',
    headers: ADMIN,
    body: publishForm(f),
  });
}

export async function createKey(): Promise<string> {
  const res = await call('/admin/keys', {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: '{"name":"test"}',
  });
  return ((await res.json()) as CreateKeyResponse).key;
}

export function binary(rows: number[][]): Uint8Array {
  return new Uint8Array(Float32Array.from(rows.flat()).buffer);
}

export async function classify(
  alias: string,
  key: string,
  body: BodyInit,
  type = 'application/octet-stream',
  query = '',
): Promise<Response> {
  return call(`/v1/models/${alias}/classify${query}`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': type },
    body,
  });
}

export async function probs(res: Response): Promise<ClassifyResponse> {
  if (res.status !== 200) throw new Error(`classify answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as ClassifyResponse;
}

/** A dashboard session: the cookie header to send and its CSRF token. */
export interface TestSession {
  cookie: string;
  csrfToken: string;
}

/** The `name=value` part of a response's session cookie (null when it sets none). */
export function sessionCookieOf(res: Response): string | null {
  const set = res.headers.getAll('set-cookie').find((c) => c.startsWith('__Host-edgehead_session='));
  return set ? (set.split(';')[0] as string) : null;
}

/** Signs in to the dashboard with the admin token, as the sign-in page does. */
export async function signIn(): Promise<TestSession> {
  const res = await call('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://edge.test' },
    body: JSON.stringify({ token: 'test-admin-token' }),
  });
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  const { csrfToken } = (await res.json()) as SessionResponse;
  return { cookie: sessionCookieOf(res) as string, csrfToken };
}
