import { type BackboneSplit, cloneLayersModel, splitBackbone } from '@edgehead/backbones';
import { type EpochMetrics, type HeadConfig, headConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend, type TrainingBackend } from './backend.ts';
import {
  type AugmentedRows,
  augmentedRows,
  checkSplit,
  type FeatureSplit,
  gatherRows,
  permutation,
  seededRandom,
  type TrainInput,
} from './data.ts';
import { yieldToEventLoop } from './engine.ts';
import { parseConfig, TrainingError } from './errors.ts';
import { registerWasmConvGradients } from './kernels/conv-gradients.ts';
import { makeOptimizer } from './model.ts';

/** What fine-tuning trains: the backbone's top (split off below `unfreeze`) and a trained head. */
export interface FineTuneInput {
  /** The backbone as extraction runs it (e.g. `Backbone.model`, cut at its feature layer); left unchanged. */
  backbone: tf.LayersModel;
  /** The layers to train (`expandUnfreeze` turns presets such as `block5` into names). */
  unfreeze: readonly string[];
  /** A trained head (`trainHead`'s Sequential) on this backbone's features; left unchanged. */
  head: tf.LayersModel;
  /** The feature set's pooling between backbone and head: 'avg' averages the map over h and w. */
  pooling: 'none' | 'avg';
  /**
   * Activations at the cut (`frozenActivations` of `splitBackbone(backbone, unfreeze).frozen`), row-major
   * [n, ...cutShape], computed once: an epoch runs only the top and the head.
   */
  train: FeatureSplit;
  /**
   * Activations at the cut of augmented copies of the training images (copy c of train row i at row
   * i * copies + c, as `TrainInput.augmented`): each epoch draws the original or one copy per image.
   */
  augmented?: TrainInput['augmented'];
  validation?: FeatureSplit;
}

/** The optimiser settings of a fine-tuning run (the head config's fields of the same name). */
export type FineTuneConfig = Pick<
  HeadConfig,
  'optimizer' | 'learningRate' | 'momentum' | 'epochs' | 'batchSize' | 'seed'
>;

/** The recipe's fine-tuning step: RMSprop at 1e-5, batches of 20. */
export const FINE_TUNE_RECIPE: FineTuneConfig = {
  optimizer: 'rmsprop',
  learningRate: 1e-5,
  momentum: 0,
  epochs: 100,
  batchSize: 20,
  seed: 0,
};

const fineTuneConfig = headConfig.pick({
  optimizer: true,
  learningRate: true,
  momentum: true,
  epochs: true,
  batchSize: true,
  seed: true,
});

/** Callbacks and controls of a fine-tuning run. */
export interface FineTuneHooks {
  /** Awaited after every epoch; a throw aborts the run. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Aborting stops between two batches; the result then has status 'cancelled'. */
  signal?: AbortSignal;
  /** Force a backend instead of the best available one. */
  backend?: TrainingBackend;
}

/** What a fine-tuning run produced; the caller disposes both models. */
export interface FineTuneResult {
  /**
   * A copy of the backbone with the trained weights in the unfrozen layers and every other weight (BatchNorm
   * moving statistics included) bit-identical to the input's; all its layers are frozen again.
   */
  backbone: tf.LayersModel;
  /** A copy of the head, trained with it. */
  head: tf.LayersModel;
  history: EpochMetrics[];
  status: 'completed' | 'cancelled';
  backend: TrainingBackend;
  /** The layers trained, in model order, and where the frozen part ended. */
  unfrozen: string[];
  cutLayer: string;
}

/**
 * Fine-tunes the top of a backbone together with its head, as the recipe's second step: the frozen part's
 * activations are given (computed once), BatchNorm runs in inference mode (its moving statistics never
 * change; gamma and beta train when their layer is unfrozen), dropout masks and batch order come from
 * `config.seed`. On wasm the three gradient kernels it lacks come from `registerWasmConvGradients`.
 * @example
 * const split = splitBackbone(vgg.model, expandUnfreeze('vgg16', ['block5']));
 * const acts = await frozenActivations(split.frozen, trainPixels, { preprocessing: 'rescale' });
 * const tuned = await fineTune({ backbone: vgg.model, unfreeze: split.unfrozen, head, pooling: 'none',
 *   train: { features: acts, labels } }, FINE_TUNE_RECIPE);
 */
export async function fineTune(
  input: FineTuneInput,
  config: FineTuneConfig,
  hooks: FineTuneHooks = {},
): Promise<FineTuneResult> {
  const cfg = parseConfig(fineTuneConfig, config);
  const backend = await initTrainingBackend(hooks.backend);
  if (backend === 'wasm') registerWasmConvGradients();
  const backbone = await cloneLayersModel(input.backbone);
  const head = await cloneLayersModel(input.head);
  let split: BackboneSplit | undefined;
  try {
    split = splitBackbone(backbone, input.unfreeze);
    const { history, status } = await new FineTuneRun(backbone, split, head, input, cfg).train(hooks);
    for (const layer of backbone.layers) layer.trainable = false;
    return { backbone, head, history, status, backend, unfrozen: split.unfrozen, cutLayer: split.cutLayer };
  } catch (error) {
    backbone.dispose();
    head.dispose();
    throw error;
  } finally {
    // The copy keeps its layers; this only drops the reference the split's top holds on them.
    split?.dispose();
  }
}

/** The seeded training loop over one split backbone copy and one head copy. */
class FineTuneRun {
  private readonly top: tf.LayersModel;
  private readonly cutShape: number[];
  private readonly dim: number;
  private readonly outputs: number;
  private readonly variables: tf.Variable[];
  /** The training rows and their augmented copies (read in place: cut activations are large). */
  private readonly rows: AugmentedRows;

  constructor(
    backbone: tf.LayersModel,
    split: BackboneSplit,
    private readonly head: tf.LayersModel,
    private readonly input: FineTuneInput,
    private readonly config: FineTuneConfig,
  ) {
    if (!(head instanceof tf.Sequential)) {
      throw new TrainingError(
        'invalid_input',
        `head: a ${head.getClassName()}, expected a Sequential (trainHead's model)`,
      );
    }
    this.top = split.top;
    this.cutShape = split.cutShape;
    this.dim = split.cutShape.reduce((a, b) => a * b, 1);
    this.outputs = head.outputs[0]?.shape[1] ?? 1;
    const numClasses = this.outputs === 1 ? 2 : this.outputs;
    checkSplit('train', input.train, this.dim, numClasses);
    if (input.validation) checkSplit('validation', input.validation, this.dim, numClasses);
    this.rows = augmentedRows(input.train, this.dim, input.augmented);
    this.checkHeadFits(split.top.outputs[0]?.shape ?? []);
    const chosen = new Set(split.unfrozen);
    for (const layer of backbone.layers) layer.trainable = chosen.has(layer.name);
    for (const layer of head.layers) layer.trainable = true;
    const layers = [...backbone.layers.filter((l) => chosen.has(l.name)), ...head.layers];
    this.variables = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  private checkHeadFits(topShape: readonly (number | null)[]): void {
    const features = this.input.pooling === 'avg' ? [topShape.at(-1) ?? null] : topShape.slice(1);
    const headInput = this.head.inputs[0]?.shape.slice(1) ?? [];
    if (features.join() !== headInput.join()) {
      throw new TrainingError(
        'invalid_input',
        `head: input [${headInput.join(', ')}], expected the backbone's features with pooling ` +
          `'${this.input.pooling}': [${features.join(', ')}]`,
      );
    }
  }

  /** Class probabilities of a batch of cut activations; `dropout` draws the head's masks when given. */
  private forward(x: tf.Tensor, dropout: (() => number) | null): tf.Tensor {
    // training: false keeps BatchNorm on its moving statistics and leaves them unchanged.
    let y = this.top.apply(x, { training: false }) as tf.Tensor;
    if (this.input.pooling === 'avg') y = tf.mean(y, [1, 2]);
    for (const layer of this.head.layers) {
      if (layer.getClassName() !== 'Dropout') {
        y = layer.apply(y) as tf.Tensor;
      } else if (dropout) {
        // Keras dropout, from a seeded stream (tfjs's own is unseeded or repeats one mask).
        const rate = Number(layer.getConfig().rate);
        const mask = new Float32Array(y.size);
        for (let i = 0; i < mask.length; i++) mask[i] = dropout() < rate ? 0 : 1 / (1 - rate);
        y = tf.mul(y, tf.tensor(mask, y.shape));
      }
    }
    return y;
  }

  private targets(labels: ArrayLike<number>, rows: ArrayLike<number>): tf.Tensor2D {
    const y = new Float32Array(rows.length * this.outputs);
    for (let i = 0; i < rows.length; i++) {
      const label = labels[rows[i] as number] as number;
      if (this.outputs === 1) y[i] = label;
      else y[i * this.outputs + label] = 1;
    }
    return tf.tensor2d(y, [rows.length, this.outputs]);
  }

  private loss(y: tf.Tensor, p: tf.Tensor): tf.Scalar {
    const perSample =
      this.outputs === 1 ? tf.metrics.binaryCrossentropy(y, p) : tf.metrics.categoricalCrossentropy(y, p);
    return tf.mean(perSample) as tf.Scalar;
  }

  /** Right answers among the rows of probabilities `p` (threshold 0.5, or the largest class). */
  private hits(p: Float32Array, labels: ArrayLike<number>, rows: ArrayLike<number>): number {
    let correct = 0;
    for (let i = 0; i < rows.length; i++) {
      const label = labels[rows[i] as number] as number;
      if (this.outputs === 1) {
        if ((p[i] as number) > 0.5 === (label === 1)) correct++;
      } else {
        let best = 0;
        for (let k = 1; k < this.outputs; k++) {
          if ((p[i * this.outputs + k] as number) > (p[i * this.outputs + best] as number)) best = k;
        }
        if (best === label) correct++;
      }
    }
    return correct;
  }

  async train(hooks: FineTuneHooks): Promise<{ history: EpochMetrics[]; status: FineTuneResult['status'] }> {
    const { labels, variant, gather } = this.rows;
    const n = this.input.train.labels.length;
    const order = seededRandom(this.config.seed);
    const dropout = seededRandom(this.config.seed ^ 0x5bd1e995);
    // a stream of its own: batch order and dropout masks are the same with and without augmentation
    const variants = seededRandom(this.config.seed ^ 0x27d4eb2f);
    const optimizer = makeOptimizer(this.config);
    const buffer = new Float32Array(Math.min(this.config.batchSize, n) * this.dim);
    const history: EpochMetrics[] = [];
    try {
      for (let epoch = 1; epoch <= this.config.epochs; epoch++) {
        const started = performance.now();
        const rows = variant(permutation(n, order), variants);
        let lossSum = 0;
        let correct = 0;
        for (let start = 0; start < n; start += this.config.batchSize) {
          await yieldToEventLoop();
          if (hooks.signal?.aborted) return { history, status: 'cancelled' };
          const end = Math.min(start + this.config.batchSize, n);
          const batch = rows.subarray(start, end);
          const x = tf.tensor(gather(rows, start, end, buffer), [end - start, ...this.cutShape]);
          const y = this.targets(labels, batch);
          let kept: tf.Tensor | undefined;
          const cost = optimizer.minimize(
            () => {
              const probabilities = this.forward(x, dropout);
              kept = tf.keep(probabilities);
              return this.loss(y, probabilities);
            },
            true,
            this.variables,
          ) as tf.Scalar;
          const p = kept as tf.Tensor;
          lossSum += ((await cost.data())[0] as number) * (end - start);
          correct += this.hits((await p.data()) as Float32Array, labels, batch);
          tf.dispose([x, y, cost, p]);
        }
        const val = this.input.validation ? await this.evaluate(this.input.validation) : null;
        const metrics: EpochMetrics = {
          epoch,
          loss: lossSum / n,
          accuracy: correct / n,
          valLoss: val?.loss ?? null,
          valAccuracy: val?.accuracy ?? null,
          durationMs: performance.now() - started,
        };
        history.push(metrics);
        await hooks.onEpoch?.(metrics);
      }
      return { history, status: 'completed' };
    } finally {
      optimizer.dispose();
    }
  }

  private async evaluate(split: FeatureSplit): Promise<{ loss: number; accuracy: number }> {
    const n = split.labels.length;
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const step = 100;
    const buffer = new Float32Array(Math.min(step, n) * this.dim);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += step) {
      const end = Math.min(start + step, n);
      const rows = all.subarray(start, end);
      const [loss, p] = tf.tidy(() => {
        const x = tf.tensor(gatherRows(split.features, this.dim, all, start, end, buffer), [
          end - start,
          ...this.cutShape,
        ]);
        const probabilities = this.forward(x, null);
        return [this.loss(this.targets(split.labels, rows), probabilities), probabilities];
      });
      lossSum += ((await loss.data())[0] as number) * (end - start);
      correct += this.hits((await p.data()) as Float32Array, split.labels, rows);
      tf.dispose([loss, p]);
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }
}
