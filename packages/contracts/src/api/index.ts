export * from './content.ts';
export { type EdgeRoutes, edgeRoutes } from './edge.ts';
export { type GpuRoutes, gpuRoutes } from './gpu.ts';
export { apiApp, type ErrorMapper, errorHandler, notFound, validationHook } from './http.ts';
export {
  describeService,
  documentedOperations,
  documentProblems,
  type OpenApiOptions,
  type OpenApiService,
  openApiDocument,
  operationRequests,
  SECURITY_SCHEMES,
} from './openapi.ts';
export type { ApiOf, EdgeApi, GpuApi, SuccessBody } from './types.ts';
