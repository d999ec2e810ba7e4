export * from './datasets.ts';
export * from './features.ts';
export * from './models.ts';
export * from './runs.ts';
