import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The update rules of tfjs's RMSprop, Adam and momentum SGD, op for op (so the curve matches `model.fit`),
 * but applied one variable at a time with slot state keyed by the variable. The fast trainer calls it
 * on each chunk of the first kernel right after that chunk's gradient is computed, while it is in cache.
 * Owns its slot variables; `dispose()` frees them.
 */
export class ChunkedOptimizer {
  private readonly slots = new Map<tf.Variable, tf.Variable[]>();
  private readonly scalars: Record<string, tf.Scalar>;
  private accBeta1: tf.Variable | undefined;
  private accBeta2: tf.Variable | undefined;

  constructor(private readonly config: Pick<HeadConfig, 'optimizer' | 'learningRate' | 'momentum'>) {
    const s = (v: number) => tf.keep(tf.scalar(v));
    this.scalars = {
      lr: s(config.learningRate),
      negLr: s(-config.learningRate),
      rho: s(0.9),
      oneMinusRho: s(1 - 0.9),
      eps: s(1e-7),
      zero: s(0),
      beta1: s(0.9),
      oneMinusBeta1: s(1 - 0.9),
      beta2: s(0.999),
      oneMinusBeta2: s(1 - 0.999),
      one: s(1),
      momentum: s(config.momentum),
    };
    if (config.optimizer === 'adam') {
      this.accBeta1 = tf.tidy(() => tf.scalar(0.9).variable(false));
      this.accBeta2 = tf.tidy(() => tf.scalar(0.999).variable(false));
    }
  }

  /** Applies one gradient to one variable (inside its own tidy; the gradient is not disposed). */
  apply(variable: tf.Variable, gradient: tf.Tensor): void {
    const k = this.scalars as Record<
      | 'lr'
      | 'negLr'
      | 'rho'
      | 'oneMinusRho'
      | 'eps'
      | 'zero'
      | 'beta1'
      | 'oneMinusBeta1'
      | 'beta2'
      | 'oneMinusBeta2'
      | 'one'
      | 'momentum',
      tf.Scalar
    >;
    const slots = this.slotsOf(variable);
    tf.tidy(() => {
      switch (this.config.optimizer) {
        case 'rmsprop': {
          // tfjs RMSprop with momentum 0: moments' = 0 * moments + g*lr/sqrt(ms'+eps) is exactly the step.
          const [ms] = slots as [tf.Variable];
          const next = tf.add(tf.mul(ms, k.rho), tf.mul(tf.square(gradient), k.oneMinusRho));
          ms.assign(next);
          variable.assign(tf.sub(variable, tf.div(tf.mul(gradient, k.lr), tf.sqrt(tf.add(next, k.eps)))));
          return;
        }
        case 'adam': {
          const [m, v] = slots as [tf.Variable, tf.Variable];
          const nextM = tf.add(tf.mul(m, k.beta1), tf.mul(gradient, k.oneMinusBeta1));
          const nextV = tf.add(tf.mul(v, k.beta2), tf.mul(tf.square(gradient), k.oneMinusBeta2));
          const mHat = tf.div(nextM, tf.sub(k.one, this.accBeta1 as tf.Variable));
          const vHat = tf.div(nextV, tf.sub(k.one, this.accBeta2 as tf.Variable));
          m.assign(nextM);
          v.assign(nextV);
          variable.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), k.eps)), k.negLr), variable));
          return;
        }
        case 'sgd': {
          if (this.config.momentum === 0) {
            variable.assign(tf.add(tf.mul(k.negLr, gradient), variable));
            return;
          }
          const [acc] = slots as [tf.Variable];
          const next = tf.add(tf.mul(k.momentum, acc), gradient);
          acc.assign(next);
          variable.assign(tf.add(tf.mul(k.negLr, next), variable));
        }
      }
    });
  }

  /** Ends one training step (Adam's bias-correction powers advance once per step, as in tfjs). */
  endStep(): void {
    if (this.accBeta1 && this.accBeta2) {
      const [b1, b2] = [this.accBeta1, this.accBeta2];
      tf.tidy(() => {
        b1.assign(tf.mul(b1, 0.9));
        b2.assign(tf.mul(b2, 0.999));
      });
    }
  }

  dispose(): void {
    for (const slots of this.slots.values()) tf.dispose(slots);
    this.slots.clear();
    tf.dispose(Object.values(this.scalars));
    tf.dispose([this.accBeta1, this.accBeta2].filter((v): v is tf.Variable => v !== undefined));
  }

  private slotsOf(variable: tf.Variable): tf.Variable[] {
    let slots = this.slots.get(variable);
    if (!slots) {
      const count =
        this.config.optimizer === 'adam'
          ? 2
          : this.config.optimizer === 'sgd' && this.config.momentum === 0
            ? 0
            : 1;
      slots = Array.from({ length: count }, () => tf.tidy(() => tf.zerosLike(variable).variable(false)));
      this.slots.set(variable, slots);
    }
    return slots;
  }
}
