// What both services' Hono apps share: validation failures and every other error rendered as the contract's
// error body, and the app factory that wires the validation in.
import { type Hook, OpenAPIHono } from '@hono/zod-openapi';
import type { Env, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, errorCodeOf, errorJson, validationFailed } from '../errors.ts';

/** How a validation target is named in messages. */
const TARGETS: Record<string, string> = {
  json: 'body',
  form: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
  cookie: 'cookie',
};

/** The routes' validation hook: a failure becomes 400 `validation_failed` naming every offending field. */
// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route's input and environment
export const validationHook: Hook<any, any, any, undefined> = (result) => {
  if (!result.success) throw validationFailed(TARGETS[result.target] ?? result.target, result.error.issues);
};

/**
 * An app for route definitions (`app.openapi(route, handler)`) whose request validation fails as the
 * contract's 400.
 * @example export const runRoutes = (deps: Deps) => apiApp().openapi(gpuRoutes.getRun, (c) => ...);
 */
export function apiApp<E extends Env = Env>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook });
}

/** Maps a library error to the HTTP error it answers with; undefined for errors it does not know. */
export type ErrorMapper = (err: unknown) => ApiError | undefined;

/** Hono's own HTTP errors (malformed JSON, a failed content-type check) as ApiErrors. */
function fromHttpException(err: unknown): ApiError | undefined {
  if (!(err instanceof HTTPException)) return undefined;
  return new ApiError(err.status, errorCodeOf(err.status), err.message || `HTTP ${err.status}`, undefined, {
    cause: err,
  });
}

/**
 * The one error handler of a service: ApiErrors, the library errors `toApiError` maps and Hono's HTTP errors
 * become `{ error: { code, message, details } }`; anything else is logged with its stack and answers 500
 * `internal`, never with a stack.
 */
export function errorHandler(toApiError: ErrorMapper = () => undefined): ErrorHandler {
  return (err, c) => {
    const api = err instanceof ApiError ? err : (toApiError(err) ?? fromHttpException(err));
    if (api) return c.json(api.toJSON(), api.status, api.headers);
    console.error(
      `${c.req.method} ${c.req.path} failed:`,
      err instanceof Error ? (err.stack ?? err.message) : typeof err,
    );
    return c.json(errorJson('internal', 'internal error'), 500);
  };
}

/** 404 `not_found` naming the method and path no route answers. */
export const notFound: NotFoundHandler = (c) =>
  c.json(errorJson('not_found', `no route ${c.req.method} ${c.req.path}`), 404);
