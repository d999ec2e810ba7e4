export { runRoutes } from './routes.ts';
export { type RunDeps, startTrainingRun } from './service.ts';
export { type TrainRunOptions, type TrainRunOutcome, trainRun } from './train.ts';
export {
  DEFAULT_TRAINING_QUEUE,
  ensureTrainingQueues,
  registerTrainingWorker,
  TRAIN_HEAD_DEAD_QUEUE,
  TRAIN_HEAD_QUEUE,
  type TrainHeadJob,
  type TrainingQueueOptions,
  type TrainingWorkerOptions,
} from './worker.ts';
