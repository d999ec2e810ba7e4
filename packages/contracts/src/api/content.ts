// The building blocks of the route definitions: bodies, answers, errors and credentials.
import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { SchemaObject } from 'openapi3-ts/oas31';
import { z } from 'zod';
import { errorBody } from '../errors.ts';

/** A JSON answer described by its zod schema. */
export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { 'application/json': { schema } },
});

/** A required JSON body, validated by the route before its handler runs. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/**
 * Bytes zod does not describe (images, archives, float32 vectors, artifact files): documented as binary,
 * read raw by the handler. No value passes through this schema (binary media types are not validated), so
 * it is typed `never` and leaves the route's JSON input and answer types as they are.
 */
export const bytes = (description: string) => ({
  schema: z.custom<never>().meta({ type: 'string', format: 'binary', description }),
});

/** A raw body of one of `mediaTypes` (the handler reads and checks it). */
export const rawBody = (mediaTypes: readonly string[], description: string) => ({
  required: true,
  content: Object.fromEntries(mediaTypes.map((type) => [type, bytes(description)])),
});

/**
 * A JSON body the handler decodes itself (it shares its route with a binary form of the same data),
 * documented by its zod schema.
 */
export const decodedJson = (schema: z.ZodType) => {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  // JSON Schema 2020-12 is what OpenAPI 3.1 schemas are; zod types it as its own JSONSchema
  return { schema: json as SchemaObject };
};

/** A `multipart/form-data` body of file parts and text fields (the handler reads and checks it). */
export const multipartBody = (
  description: string,
  parts: Record<string, { type: 'string'; format?: 'binary'; description: string }>,
) => ({
  required: true,
  description,
  content: { 'multipart/form-data': { schema: { type: 'object' as const, properties: parts } } },
});

const errorResponse = jsonResponse(
  'an error: `{ error: { code, message, details } }`, `details` naming the offending field',
  errorBody,
);

/** The error answers of every route. */
export const errorResponses = { '4XX': errorResponse, '5XX': errorResponse };

/**
 * A route definition (`createRoute`) with the error answers every route has.
 * @example route({ method: 'get', path: '/v1/runs/{id}', request: { params }, responses: { 200: ok } })
 */
export function route<P extends string, R extends Omit<RouteConfig, 'path'> & { path: P }>(config: R) {
  return createRoute({ ...config, responses: { ...config.responses, ...errorResponses } });
}

/** `GET /openapi.json` of both services: the document generated from their routes. */
export const openApiRoute = route({
  method: 'get',
  path: '/openapi.json',
  summary: 'This OpenAPI 3.1 document',
  tags: ['health'],
  responses: { 200: jsonResponse('the document', z.record(z.string(), z.unknown())) },
});

/** The image types the services decode. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;

/** The security schemes a route may name (defined in `SECURITY_SCHEMES`). */
export type SecuritySchemeName = 'gpuToken' | 'adminToken' | 'apiKey' | 'dashboardSession';

/** OpenAPI security requirements: any one of the named credentials will do. */
const anyOf = (...names: SecuritySchemeName[]): Record<string, string[]>[] => names.map((n) => ({ [n]: [] }));

/** The credential each route takes, as OpenAPI security requirements. */
export const AUTH = {
  gpuToken: anyOf('gpuToken'),
  adminToken: anyOf('adminToken'),
  apiKey: anyOf('apiKey'),
  session: anyOf('dashboardSession'),
  /** The admin token or a dashboard session (whose changes also need x-csrf-token). */
  adminOrSession: anyOf('adminToken', 'dashboardSession'),
  /** A dashboard session or the admin token (the dashboard's data). */
  sessionOrAdmin: anyOf('dashboardSession', 'adminToken'),
};

/** Route definitions by name, each named in the document by its key (`operationId`). */
export function namedRoutes<T extends Record<string, RouteConfig>>(routes: T): T {
  return Object.fromEntries(
    Object.entries(routes).map(([operationId, route]) => [operationId, { ...route, operationId }]),
  ) as T;
}
