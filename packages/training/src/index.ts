export { initTrainingBackend, type TrainingBackend } from './backend.ts';
export type { FeatureSplit, TrainInput } from './data.ts';
export { TrainingError, type TrainingErrorCode } from './errors.ts';
export {
  aucOf,
  chooseThreshold,
  type Evaluation,
  evaluateHead,
  predictProbabilities,
  rocCurve,
  scorePredictions,
} from './evaluate.ts';
export {
  FINE_TUNE_RECIPE,
  type FineTuneConfig,
  type FineTuneHooks,
  type FineTuneInput,
  type FineTuneResult,
  fineTune,
} from './finetune.ts';
export { registerWasmConvGradients } from './kernels/conv-gradients.ts';
export { buildHeadModel, makeOptimizer } from './model.ts';
export { VariableOptimizer } from './optimizer.ts';
export { BUNDLED_TRAINING_WORKER_FILE, defaultTrainingWorkerUrl } from './parallel-engine.ts';
export { type EngineName, type TrainHooks, type TrainResult, trainHead } from './train.ts';
