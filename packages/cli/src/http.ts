import { errorBody } from '@edgehead/contracts';
import type { z } from 'zod';
import { CliError } from './errors.ts';

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: string | Uint8Array | FormData | Blob;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** How often a request refused with 429 is sent again, and the longest `Retry-After` honoured (s). */
const RATE_LIMIT_RETRIES = 5;
const MAX_RETRY_AFTER_S = 120;

/**
 * A small fetch client for one service: base URL + bearer token; error bodies become CliErrors. A 429 is
 * waited out as its `Retry-After` says (a few times), so long jobs such as the demo stay within rate limits.
 */
export class ApiClient {
  constructor(
    /** Name used in messages ("gpu service", "edge"). */
    readonly name: string,
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  /** The absolute URL of `path` with `query`. */
  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path, `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Sends a request and returns the raw response when it is 2xx; throws a CliError otherwise. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { ...options.headers };
    if (this.token && !headers.authorization) headers.authorization = `Bearer ${this.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body: body ?? null, signal: options.signal ?? null });
      } catch (cause) {
        const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
        throw new CliError(
          'unreachable',
          `${this.name} at ${url.origin} is unreachable (${reason}); is \`edgehead up\` running?`,
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
      throw await responseError(this.name, method, url, res);
    }
  }

  /** Sends a request and parses the JSON answer with `schema` (or returns it untyped without one). */
  async call<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
    schema?: z.ZodType<T>,
  ): Promise<T> {
    const res = await this.raw(method, path, options);
    const json = res.status === 204 ? null : await res.json();
    if (!schema) return json as T;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CliError(
        'api',
        `${this.name} sent an unexpected answer to ${method} ${path}: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
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
