import { errorBody } from '@edgehead/contracts';
import type { EdgeApi, GpuApi, SuccessBody } from '@edgehead/contracts/api';
import { hc } from 'hono/client';
import { CliError } from './errors.ts';

/** How often a request refused with 429 is sent again, and the longest `Retry-After` honoured (s). */
const RATE_LIMIT_RETRIES = 5;
const MAX_RETRY_AFTER_S = 120;

/**
 * The fetch of one service's client: the bearer token on every request, a 429 waited out as its
 * `Retry-After` says (a few times, so that long jobs such as the demo stay within rate limits), a service
 * that cannot be reached as CliError('unreachable') and any other non-2xx answer as CliError('api') carrying
 * the service's `{ error: { code, message } }`. What reaches the caller is always a 2xx answer.
 */
export function serviceFetch(name: string, token: string | null): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    if (token && !request.headers.has('authorization'))
      request.headers.set('authorization', `Bearer ${token}`);
    // the body is read once here, so that a refused request can be sent again
    const body = request.body === null ? null : await request.arrayBuffer();
    const url = new URL(request.url);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: request.method,
          headers: request.headers,
          body,
          signal: request.signal,
        });
      } catch (cause) {
        const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
        throw new CliError(
          'unreachable',
          `${name} at ${url.origin} is unreachable (${reason}); is \`edgehead up\` running?`,
          undefined,
          { cause },
        );
      }
      if (res.ok) return res;
      const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
      if (
        res.status === 429 &&
        attempt < RATE_LIMIT_RETRIES &&
        retryAfter >= 0 &&
        retryAfter <= MAX_RETRY_AFTER_S
      ) {
        // read the small refusal to its end: cancelling it would drop the connection mid-answer
        await res.arrayBuffer().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
        continue;
      }
      throw await responseError(name, request.method, url, res);
    }
  };
}

/** The typed client of the gpu service (`hc` over the gpu route definitions). */
export const gpuClient = (baseUrl: string, token: string | null) =>
  hc<GpuApi>(baseUrl, { fetch: serviceFetch('gpu service', token) });
export type GpuClient = ReturnType<typeof gpuClient>;

/** The typed client of the edge (`hc` over the edge route definitions). */
export const edgeClient = (baseUrl: string, token: string | null) =>
  hc<EdgeApi>(baseUrl, { fetch: serviceFetch('edge', token) });
export type EdgeClient = ReturnType<typeof edgeClient>;

/**
 * The JSON answer of a client call, typed by its route (the clients' fetch has turned every other answer
 * into a CliError already).
 * @example const { datasets } = await ok(ctx.gpu.v1.datasets.$get());
 */
export async function ok<R extends { json(): Promise<unknown> }>(call: Promise<R>): Promise<SuccessBody<R>> {
  return (await (await call).json()) as SuccessBody<R>;
}

/** Turns a non-2xx answer into a CliError('api') carrying the service's `{ error: { code, message } }`. */
export async function responseError(
  service: string,
  method: string,
  url: URL,
  res: Response,
): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let message = text.slice(0, 500) || res.statusText;
  let details: unknown;
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      message = `${parsed.data.error.code}: ${parsed.data.error.message}`;
      details = parsed.data.error.details;
    }
  } catch {
    // not JSON: keep the text
  }
  return new CliError('api', `${service} answered ${res.status} to ${method} ${url.pathname}: ${message}`, {
    status: res.status,
    details,
  });
}
