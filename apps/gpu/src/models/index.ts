export { type ArtifactFields, type BuiltArtifact, buildArtifact } from './artifact.ts';
export {
  activateAtEdge,
  type EdgeAdmin,
  type PublishInput,
  type PublishResult,
  publishModel,
  rollbackAtEdge,
} from './publish.ts';
export { type ModelDeps, modelRoutes } from './routes.ts';
