export { type AppDeps, createApp, type GpuAppType } from './app.ts';
export { type GpuEnv, parseEnv } from './env.ts';
export { cancelExtractionsFor, extractionFor, startExtraction } from './extraction/service.ts';
export { type JobOutcome, registerExtractionWorker, runExtractJob } from './extraction/worker.ts';
export { ExtractorRegistry, type ExtractorRequest } from './extractors/registry.ts';

export { type JobQueue, startQueue } from './queue/index.ts';
export { registryFromEnv, startServices } from './services.ts';
export { UPLOAD_DECODE_CONCURRENCY } from './uploads/ingest.ts';
