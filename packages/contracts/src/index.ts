export * from './errors.ts';
export * from './manifest.ts';
export * from './classify.ts';
export * from './features.ts';
export * from './models.ts';
export * from './runs.ts';
export * from './datasets.ts';
export * from './training-api.ts';
