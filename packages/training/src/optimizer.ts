import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs-core';
import {
  fusedDenseUpdate,
  fusedKernelsAvailable,
  fusedUpdate,
  type UpdateRule,
  type UpdateScalars,
  updateRules,
} from './kernels/update-kernels.ts';

const f32 = Math.fround;
const RHO = f32(0.9);
const BETA1 = f32(0.9);
const BETA2 = f32(0.999);
const EPSILON = f32(1e-7);

/**
 * The update rules of tfjs's RMSprop, Adam and (momentum) SGD with the Keras defaults of `makeOptimizer`,
 * applied one variable at a time with slot state kept per variable, so that the fast trainer can update
 * each of its own variables (its shard of the head) as soon as the gradient exists. On the wasm backend
 * each update is one fused kernel (kernels/optimizer.wat: one pass over memory instead of about ten
 * elementwise ops); elsewhere it is tfjs's op-by-op rule. Both give the bits `tf.train.*` gives.
 * Owns its slot variables; `dispose()` frees them.
 */
export class VariableOptimizer {
  private readonly slots = new Map<tf.Variable, tf.Variable[]>();
  private readonly rule: UpdateRule;
  private readonly fused = fusedKernelsAvailable();
  // Adam's bias-correction powers, as tfjs keeps them: f32 products advanced once per step.
  private accBeta1 = BETA1;
  private accBeta2 = BETA2;

  constructor(private readonly config: Pick<HeadConfig, 'optimizer' | 'learningRate' | 'momentum'>) {
    this.rule = config.optimizer === 'sgd' ? (config.momentum === 0 ? 'sgd' : 'momentum') : config.optimizer;
  }

  /** Applies one gradient to one variable (the gradient is not disposed). */
  apply(variable: tf.Variable, gradient: tf.Tensor): void {
    const slots = this.slotsOf(variable);
    this.assign(
      variable,
      slots,
      tf.tidy(() =>
        this.fused
          ? fusedUpdate(this.rule, variable, slots, gradient, this.scalars())
          : this.opByOp(variable, slots, gradient),
      ),
    );
  }

  /**
   * Applies the weight gradient `dA . x` of a dense kernel stored [units, dim] (dA [units, batch],
   * x [batch, dim]). On wasm, when at most 40% of dA is nonzero (ReLU and dropout zero most of it), one
   * fused kernel makes the gradient a row at a time skipping the zeros and applies each row at once; else
   * `matMul` then `apply`. Same bits either way.
   */
  applyDense(variable: tf.Variable, dA: tf.Tensor2D, x: tf.Tensor2D): void {
    if (!this.fused || !sparseEnough(dA.dataSync() as Float32Array)) {
      tf.tidy(() => this.apply(variable, tf.matMul(dA, x)));
      return;
    }
    const slots = this.slotsOf(variable);
    this.assign(
      variable,
      slots,
      fusedDenseUpdate(this.rule, variable as tf.Tensor2D, slots, dA, x, this.scalars()),
    );
  }

  /** Ends one training step (Adam's bias-correction powers advance once per step, as in tfjs). */
  endStep(): void {
    this.accBeta1 = f32(this.accBeta1 * BETA1);
    this.accBeta2 = f32(this.accBeta2 * BETA2);
  }

  dispose(): void {
    for (const slots of this.slots.values()) tf.dispose(slots);
    this.slots.clear();
  }

  /** The scalars of the rule as tfjs makes them: f32 values of the JS numbers. */
  private scalars(): UpdateScalars {
    const lr = this.config.learningRate;
    return {
      lr: f32(lr),
      negLr: f32(-lr),
      rho: RHO,
      oneMinusRho: f32(1 - 0.9),
      eps: EPSILON,
      beta1: BETA1,
      oneMinusBeta1: f32(1 - 0.9),
      beta2: BETA2,
      oneMinusBeta2: f32(1 - 0.999),
      oneMinusAccBeta1: f32(1 - this.accBeta1),
      oneMinusAccBeta2: f32(1 - this.accBeta2),
      momentum: f32(this.config.momentum),
    };
  }

  /** tfjs's rules op for op (tf.train.rmsprop / adam / momentum / sgd): [variable', ...slots']. */
  private opByOp(variable: tf.Tensor, slots: tf.Tensor[], g: tf.Tensor): tf.Tensor[] {
    const k = this.scalars();
    const s = (name: keyof UpdateScalars) => tf.scalar(k[name]);
    switch (this.rule) {
      case 'rmsprop': {
        const [ms] = slots as [tf.Tensor];
        const next = tf.add(tf.mul(ms, s('rho')), tf.mul(tf.square(g), s('oneMinusRho')));
        return [tf.sub(variable, tf.div(tf.mul(g, s('lr')), tf.sqrt(tf.add(next, s('eps'))))), next];
      }
      case 'adam': {
        const [m, v] = slots as [tf.Tensor, tf.Tensor];
        const nextM = tf.add(tf.mul(m, s('beta1')), tf.mul(g, s('oneMinusBeta1')));
        const nextV = tf.add(tf.mul(v, s('beta2')), tf.mul(tf.square(g), s('oneMinusBeta2')));
        const mHat = tf.div(nextM, s('oneMinusAccBeta1'));
        const vHat = tf.div(nextV, s('oneMinusAccBeta2'));
        const step = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), s('eps'))), s('negLr'));
        return [tf.add(step, variable), nextM, nextV];
      }
      case 'momentum': {
        const [acc] = slots as [tf.Tensor];
        const next = tf.add(tf.mul(s('momentum'), acc), g);
        return [tf.add(tf.mul(s('negLr'), next), variable), next];
      }
      case 'sgd':
        return [tf.add(tf.mul(s('negLr'), g), variable)];
    }
  }

  private assign(variable: tf.Variable, slots: tf.Variable[], next: tf.Tensor[]): void {
    variable.assign(next[0] as tf.Tensor);
    for (const [i, slot] of slots.entries()) slot.assign(next[i + 1] as tf.Tensor);
    tf.dispose(next);
  }

  private slotsOf(variable: tf.Variable): tf.Variable[] {
    let slots = this.slots.get(variable);
    if (!slots) {
      slots = Array.from({ length: updateRules[this.rule].slots }, () =>
        tf.tidy(() => tf.zerosLike(variable).variable(false)),
      );
      this.slots.set(variable, slots);
    }
    return slots;
  }
}

/**
 * Largest share of nonzero entries of dA for which the row kernel beats `matMul` plus the fused update
 * (`test/bench/training-dense-update.ts`: 1.25-1.5x faster at 25%, even at about 50%, slower above).
 */
const ROW_KERNEL_MAX_NONZERO = 0.4;

function sparseEnough(values: Float32Array): boolean {
  let nonzero = 0;
  for (const v of values) if (v !== 0) nonzero++;
  return nonzero <= values.length * ROW_KERNEL_MAX_NONZERO;
}
