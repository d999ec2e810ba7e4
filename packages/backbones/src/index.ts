export {
  type AugmentationParameters,
  affineMatrix,
  augmentationParameters,
  augmentImage,
  type Matrix3,
  transformImage,
} from './augment.ts';
export {
  BACKEND_PREFERENCE,
  type BackendInfo,
  type BackendName,
  defaultWasmDir,
  type InitBackendOptions,
  initBackend,
} from './backend.ts';
export { BackboneError, type BackboneErrorCode, isBackboneError } from './errors.ts';
export { DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, decodeImage } from './image.ts';
export {
  Backbone,
  type FeatureExtractor,
  type LoadBackboneOptions,
  loadBackbone,
  type ResolvedBackbone,
} from './load.ts';
export { mobilenetV1Spec, mobilenetV2Spec } from './models/mobilenet.ts';
export {
  type BackboneConfig,
  type BackboneConfigInput,
  BUILTIN_BACKBONES,
  type BuiltinBackboneName,
  backboneConfig,
  backboneName,
  DEFAULT_BACKBONE,
  type FeatureSet,
  featureSetKey,
  getBackboneSpec,
  isBuiltinBackbone,
  parseBackboneConfig,
  parseFeatureSetKey,
} from './models/registry.ts';
export { type BackboneSpec, type Pooling, pooledShape } from './models/spec.ts';
export {
  buildVgg16,
  VGG16_KERAS_WEIGHTS,
  VGG16_LAYERS,
  VGG16_PARAMS,
  vgg16Macs,
  vgg16Spec,
} from './models/vgg16.ts';
export { pilNearestIndices, resizeNearestPil } from './pil-nearest.ts';
export {
  BUNDLED_WORKER_FILE,
  createExtractorPool,
  defaultWorkerUrl,
  ExtractorPool,
  type PoolOptions,
} from './pool.ts';
export { CAFFE_MEAN_BGR, preprocess, preprocessInto } from './preprocess.ts';
export {
  type BackboneSplit,
  cloneLayersModel,
  expandUnfreeze,
  frozenActivations,
  splitBackbone,
  UNFREEZE_PRESETS,
} from './split.ts';
export {
  type Checksum,
  cachePathFor,
  type DownloadOptions,
  downloadToCache,
  fileIOHandler,
  type LayerWeightMap,
  parseKerasH5,
  type ResolvedWeights,
  readKerasH5,
  readLayersModelFolder,
  resolveWeights,
  saveLayersModelFolder,
  type WeightArray,
  writeKerasH5,
} from './weights/index.ts';
