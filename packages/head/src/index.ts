export {
  HEAD_ARTIFACT_FILES,
  type HeadArtifactFiles,
  type HeadManifestFields,
  type LoadedHead,
  loadHead,
  parseHeadManifest,
  type TfjsModelArtifacts,
  type VerifiedHead,
  verifyHeadArtifact,
  type WrittenHead,
  writeHeadArtifact,
} from './artifact.ts';
export { HeadError, type HeadErrorCode } from './errors.ts';
export { decodeFloat16, decodeFloat32, encodeFloat16, halfToFloat } from './float16.ts';
export { denseWasmBytes } from './kernel/dense-wasm.ts';
export { toPredictions } from './predictions.ts';
export { HeadModel, type HeadModelOptions, type KernelKind } from './runtime.ts';
export { sha256Hex, toHex } from './sha256.ts';
export { ACTIVATIONS, type LayerPlan, planTopology, type TopologyPlan } from './topology.ts';
