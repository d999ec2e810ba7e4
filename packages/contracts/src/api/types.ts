import type { RouteConfig, RouteConfigToTypedResponse, RouteHandler } from '@hono/zod-openapi';
import type { Env, Hono, Schema } from 'hono';
import type { ClientResponse } from 'hono/client';
import type { Handler, ToSchema } from 'hono/types';
import type { SuccessStatusCode } from 'hono/utils/http-status';
import type { EdgeRoutes } from './edge.ts';
import type { GpuRoutes } from './gpu.ts';

/** `/v1/datasets/{id}` as Hono writes it: `/v1/datasets/:id`. */
type HonoPath<P extends string> = P extends `${infer Head}{${infer Param}}${infer Rest}`
  ? `${Head}:${Param}${HonoPath<Rest>}`
  : P;

// biome-ignore lint/suspicious/noExplicitAny: only the input of the handler type is read
type InputOf<R extends RouteConfig> = RouteHandler<R> extends Handler<any, any, infer I, any> ? I : never;

/** One route as Hono's schema of an app has it: method, path, input and every typed answer. */
type RouteSchema<R extends RouteConfig> = ToSchema<
  R['method'],
  HonoPath<R['path']>,
  InputOf<R>,
  RouteConfigToTypedResponse<R>
>;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;

/**
 * The Hono app type of a set of route definitions: what an app that implements exactly these routes has,
 * so that `hc<ApiOf<Routes>>()` is typed by them. Each app proves its own type equals it.
 */
export type ApiOf<Routes extends Record<string, RouteConfig>> =
  UnionToIntersection<{ [K in keyof Routes]: RouteSchema<Routes[K]> }[keyof Routes]> extends infer S extends
    Schema
    ? Hono<Env, S, '/'>
    : never;

/** The gpu service's API, for `hc<GpuApi>()` (the CLI, the edge's image path). */
export type GpuApi = ApiOf<GpuRoutes>;

/** The edge's API, for `hc<EdgeApi>()` (the CLI, the dashboard, the gpu service's publish). */
export type EdgeApi = ApiOf<EdgeRoutes>;

/** The JSON body of the 2xx answers an `hc` call's response may be (clients that turn the others into errors). */
export type SuccessBody<R> =
  R extends ClientResponse<infer T, infer S, infer F>
    ? S extends SuccessStatusCode
      ? F extends 'json'
        ? T
        : never
      : never
    : never;
