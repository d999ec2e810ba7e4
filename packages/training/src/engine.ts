import type * as tf from '@tensorflow/tfjs';

/** Mean loss and accuracy over one pass. */
export interface PassMetrics {
  loss: number;
  accuracy: number;
}

/**
 * One way of fitting the head (the fast custom step on this thread or in workers, or plain `model.fit`). `trainHead` drives it
 * epoch by epoch and owns early stopping, hooks and cancellation.
 */
export interface TrainingEngine {
  /** One epoch over the training rows in `order`; null when `shouldStop()` turned true between batches. */
  trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null>;
  /** Loss and accuracy on the validation split (no dropout, no class weights), null without one. */
  evaluate(): Promise<PassMetrics | null>;
  /** Remembers the current weights (for restoring the best epoch). */
  snapshot(): Promise<void>;
  /** Puts the remembered weights back. */
  restore(): Promise<void>;
  /** Writes the trained weights into the Sequential model and frees everything else. */
  finish(): Promise<tf.LayersModel>;
  /** Frees everything (threads included) without touching the model: the path of a failed run. */
  dispose(): Promise<void>;
}

/** Yields to the event loop so that an AbortSignal raised elsewhere can be seen between batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
