export * from './backbone-weights.ts';
export * from './datasets.ts';
export * from './extractions.ts';
export * from './feature-sets.ts';
export * from './features.ts';
export * from './models.ts';
export * from './runs.ts';
