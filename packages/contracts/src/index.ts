export * from './errors.ts';
export * from './manifest.ts';
