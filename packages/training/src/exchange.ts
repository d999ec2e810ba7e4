import { TrainingError } from './errors.ts';

/**
 * How the shards of one head agree on a step: each contributes its partial logits (W2 columns of its hidden
 * units times its activations) and gets back their sum, added in shard order so that every shard sees the
 * same bits whatever the thread timing. Shard 0 also decides whether to stop; the others follow it.
 */
export interface Exchange {
  /** Sums `partial` over shards (in shard order); `stop` is shard 0's `wantStop`. */
  combine(partial: Float32Array, wantStop: boolean): { sum: Float32Array; stop: boolean };
}

/** The exchange of a head held by one shard: nothing to add, nobody to wait for. */
export const localExchange: Exchange = {
  combine: (partial, wantStop) => ({ sum: partial, stop: wantStop }),
};

// Int32 slots of the control block.
const GEN = 0; // barrier generation
const ARRIVED = 1; // shards arrived at the current barrier
const STOP_REQUESTED = 2; // set by the main thread when the run is aborted
const FAILED = 3; // set when a shard or the main thread gave up (wakes a waiting peer)
const DECISION = 4; // shard 0's stop decision, one slot per buffer parity (4, 5)
const CONTROL_INTS = 6;
/** How long a waiting shard sleeps between checks that its peers are still alive. */
const WAIT_MS = 500;
/** Loads of the generation before sleeping (a few microseconds): a peer running on the other core is usually that close, and waking from a futex costs more. */
const SPIN = 2000;

/** The shared memory behind a `SharedExchange`: created by the main thread, sent to every worker. */
export interface ExchangeMemory {
  control: SharedArrayBuffer;
  partials: SharedArrayBuffer;
  shards: number;
  /** Floats per partial (out units x the largest row count of one combine). */
  capacity: number;
}

/** Allocates the control block and the double-buffered partial slots for `shards` shards. */
export function createExchangeMemory(shards: number, capacity: number): ExchangeMemory {
  return {
    control: new SharedArrayBuffer(CONTROL_INTS * 4),
    partials: new SharedArrayBuffer(2 * shards * capacity * 4),
    shards,
    capacity,
  };
}

/** Asks the shards to stop at their next step (called by the main thread when the signal aborts). */
export function requestStop(memory: ExchangeMemory): void {
  Atomics.store(new Int32Array(memory.control), STOP_REQUESTED, 1);
}

/** Clears a stop request before the next epoch. */
export function clearStop(memory: ExchangeMemory): void {
  Atomics.store(new Int32Array(memory.control), STOP_REQUESTED, 0);
}

/** Marks the group failed and wakes every waiting shard (they throw instead of waiting forever). */
export function markFailed(memory: ExchangeMemory): void {
  const control = new Int32Array(memory.control);
  Atomics.store(control, FAILED, 1);
  Atomics.add(control, GEN, 1);
  Atomics.notify(control, GEN);
}

/**
 * The exchange between shards in worker threads: partials in shared memory, one barrier per combine.
 * Slots alternate between two buffers, so a shard that is already one combine ahead never overwrites
 * a partial its peer is still reading (it cannot get two ahead: it would have to pass the peer's barrier).
 */
export class SharedExchange implements Exchange {
  private readonly control: Int32Array;
  private readonly slots: Float32Array[][];
  private parity = 0;

  constructor(
    private readonly memory: ExchangeMemory,
    private readonly index: number,
  ) {
    this.control = new Int32Array(memory.control);
    this.slots = [0, 1].map((p) =>
      Array.from(
        { length: memory.shards },
        (_, s) =>
          new Float32Array(memory.partials, (p * memory.shards + s) * memory.capacity * 4, memory.capacity),
      ),
    );
  }

  /** Shard 0 reads the main thread's stop request here, once per step. */
  stopRequested(): boolean {
    return Atomics.load(this.control, STOP_REQUESTED) === 1;
  }

  combine(partial: Float32Array, wantStop: boolean): { sum: Float32Array; stop: boolean } {
    if (partial.length > this.memory.capacity) {
      throw new TrainingError(
        'invalid_input',
        `partial of ${partial.length} values, expected at most the exchange capacity ${this.memory.capacity}`,
      );
    }
    const p = this.parity;
    this.parity ^= 1;
    const slots = this.slots[p] as Float32Array[];
    (slots[this.index] as Float32Array).set(partial);
    if (this.index === 0) Atomics.store(this.control, DECISION + p, wantStop ? 1 : 0);
    this.barrier();
    const stop = Atomics.load(this.control, DECISION + p) === 1;
    // Float32Array stores round every partial sum to float32, as tf.add would (double rounding of a sum
    // of two float32 values is exact).
    const sum = new Float32Array(partial.length);
    for (const slot of slots) {
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (slot[i] as number);
    }
    return { sum, stop };
  }

  private barrier(): void {
    const c = this.control;
    const generation = Atomics.load(c, GEN);
    if (Atomics.add(c, ARRIVED, 1) === this.memory.shards - 1) {
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
    } else {
      for (let i = 0; i < SPIN && Atomics.load(c, GEN) === generation; i++);
      while (Atomics.load(c, GEN) === generation) Atomics.wait(c, GEN, generation, WAIT_MS);
    }
    if (Atomics.load(c, FAILED) === 1) {
      throw new TrainingError(
        'worker_failed',
        `shard ${this.index}: a peer shard failed, expected all alive`,
      );
    }
  }
}
