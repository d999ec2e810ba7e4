import type * as tf from '@tensorflow/tfjs';

/** Mean loss and accuracy over one pass. */
export interface PassMetrics {
  loss: number;
  accuracy: number;
}

/**
 * One way of fitting the head (the fast custom step, or plain `model.fit`). `trainHead` drives it
 * epoch by epoch and owns early stopping, hooks and cancellation.
 */
export interface TrainingEngine {
  /** One epoch over the training rows in `order`; null when `shouldStop()` turned true between batches. */
  trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null>;
  /** Loss and accuracy on the validation split (no dropout, no class weights), null without one. */
  evaluate(): PassMetrics | null;
  /** Remembers the current weights (for restoring the best epoch). */
  snapshot(): void;
  /** Puts the remembered weights back. */
  restore(): void;
  /** Writes the trained weights into the Sequential model and frees everything else. */
  finish(): tf.LayersModel;
}

/** Yields to the event loop so that an AbortSignal raised elsewhere can be seen between batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
