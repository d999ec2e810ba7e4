export {
  type AugmentationParameters,
  type AugmentRequest,
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
  type ExtractOptions,
  type FeatureExtractor,
  type LoadBackboneOptions,
  loadBackbone,
  type ResolvedBackbone,
} from './load.ts';
export type { BuildOptions } from './models/build.ts';
export {
  buildEfficientNetB0,
  correctPad,
  EFFICIENTNET_B0_KERAS_WEIGHTS,
  EFFICIENTNET_B0_PARAMS,
  efficientnetB0Spec,
} from './models/efficientnet_b0.ts';
export {
  buildInceptionV3,
  INCEPTION_V3_KERAS_WEIGHTS,
  INCEPTION_V3_PARAMS,
  inceptionV3Spec,
} from './models/inception_v3.ts';
export { countMacs } from './models/macs.ts';
export { mobilenetV1Spec, mobilenetV2Spec } from './models/mobilenet.ts';
export { Normalization } from './models/normalization.ts';
export {
  type BackboneConfig,
  type BackboneConfigInput,
  type BackboneShorthand,
  BUILTIN_BACKBONES,
  type BuiltinBackboneName,
  backboneConfig,
  backboneEnvKey,
  backboneFormat,
  backboneInputSize,
  backboneName,
  DEFAULT_BACKBONE,
  getBackboneSpec,
  isBuiltinBackbone,
  parseBackboneConfig,
  parseBackboneShorthand,
} from './models/registry.ts';
export { buildResNet50, RESNET50_KERAS_WEIGHTS, RESNET50_PARAMS, resnet50Spec } from './models/resnet50.ts';
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
export { weightsSha256 } from './weights/identity.ts';
export {
  type Checksum,
  cachePathFor,
  type DownloadOptions,
  downloadToCache,
  fileIOHandler,
  type KerasWeights,
  keras3Paths,
  kerasLookup,
  kerasSnakeCase,
  type LayersModelFiles,
  layersModelFiles,
  parseKerasH5,
  type ResolvedWeights,
  readKerasH5,
  readLayersModelFolder,
  readTfjsModelFolder,
  resolveWeights,
  type StoredLayer,
  saveLayersModelFolder,
  type WeightArray,
  writeKerasH5,
} from './weights/index.ts';
