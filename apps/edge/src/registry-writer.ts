import { DurableObject } from 'cloudflare:workers';
import type { Activation, ActiveResponse, ErrorDetails, ModelVersion } from '@edgehead/contracts';
import { type ActivationChange, mirrorActivation } from './deployments.ts';

/** Versions and activation history of one alias; KV `registry:<alias>` holds the copy that readers use. */
export interface RegistryRecord {
  versions: ModelVersion[];
  history: Activation[];
}

/**
 * Why the writer refused a change, as data: an Error loses its class and fields across Durable Object RPC,
 * so the worker turns this into its HTTP error (`registry.ts`).
 */
export interface RegistryRefusal {
  status: 404 | 409;
  message: string;
  details: ErrorDetails;
}

/** What a writer call returns: the value, or the refusal. */
export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; refusal: RegistryRefusal };

/** The alias as this object stores it (`record` null: no version published yet). */
interface AliasState {
  alias: string;
  record: RegistryRecord | null;
  active: string | null;
  /** Versions whose artifacts a publish is writing to R2 now, with when the claim lapses (ms). */
  reserved: Record<string, number>;
}

/** The newest switch that Postgres' deployments table has not recorded yet. */
interface PendingMirror extends ActivationChange {
  /** Increases with every switch: an alarm only clears the change it tried. */
  seq: number;
  /** When the switch happened (ms). */
  at: number;
  attempts: number;
  /** Not before (ms): set after a failed attempt. */
  retryAt?: number;
}

/** KV keys of the fast read path. */
export const registryKey = (alias: string) => `registry:${alias}`;
export const activeKey = (alias: string) => `active:${alias}`;

// a publish that died between reserving and committing frees its version after this long
const RESERVATION_MS = 15 * 60_000;
// a KV copy the platform refused (one write per second per key) is redone this much later
const KV_RETRY_MS = 2_000;
// the deployments mirror retries with doubling delays up to this, and gives up on a switch this old
const MIRROR_MAX_DELAY_MS = 5 * 60_000;
const MIRROR_GIVE_UP_MS = 24 * 60 * 60_000;

const refuse = (
  status: RegistryRefusal['status'],
  message: string,
  details: ErrorDetails,
): { ok: false; refusal: RegistryRefusal } => ({ ok: false, refusal: { status, message, details } });
const unknownAlias = (alias: string) =>
  refuse(404, `unknown model alias ${JSON.stringify(alias)}`, { alias });

/**
 * The one writer of an alias's registry (`idFromName(alias)`): publishes, activations and rollbacks of one
 * alias run here one after another, so two publishers can no longer both read the record, each add their
 * version and overwrite the other's. Its storage is the truth; after every change it writes KV
 * (`registry:<alias>` first, then `active:<alias>`), which classify requests read without coming here.
 * A switch of the active version is mirrored into Postgres from its alarm, never on the request's path.
 */
export class RegistryWriter extends DurableObject<Env> {
  #queue: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every earlier one finished: KV writes are I/O, which lets other calls in meanwhile. */
  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #load(alias: string): Promise<AliasState> {
    const stored = await this.ctx.storage.get<AliasState>('state');
    if (stored) return stored;
    // an alias published before this object existed: its KV records are where it starts from
    const [record, active] = await Promise.all([
      this.env.REGISTRY.get<RegistryRecord>(registryKey(alias), 'json'),
      this.env.REGISTRY.get(activeKey(alias)),
    ]);
    return { alias, record, active, reserved: {} };
  }

  /**
   * Stores the state, then writes its KV copy. KV takes one write per second per key: a refused write is
   * logged and redone from the alarm (readers then see the change a moment later, as across locations).
   * A switch to a version that names its training run also queues the deployments mirror: only the gpu
   * service's publishes (which put the run id in the manifest) have a deployments row, so a head published
   * by another tool has nothing to record and costs no connection.
   */
  async #save(state: AliasState, change?: ActivationChange): Promise<void> {
    await this.ctx.storage.put('state', state);
    const target = change && state.record?.versions.find((v) => v.version === change.version);
    if (change && target?.manifest.runId) {
      const previous = await this.ctx.storage.get<PendingMirror>('mirror');
      const pending: PendingMirror = {
        ...change,
        seq: (previous?.seq ?? 0) + 1,
        at: Date.now(),
        attempts: 0,
      };
      await this.ctx.storage.put('mirror', pending);
      await this.#wakeAt(Date.now());
    }
    try {
      await this.#writeKv(state, change !== undefined);
    } catch (err) {
      console.warn(
        `registry: KV copy of ${state.alias} not written, retried from the alarm: ${(err as Error).message}`,
      );
      await this.ctx.storage.put('kv-stale', true);
      await this.#wakeAt(Date.now() + KV_RETRY_MS);
    }
  }

  /** `registry:<alias>`, then (when it changed) `active:<alias>`: a reader never sees a pointer to a missing version. */
  async #writeKv(state: AliasState, pointer: boolean): Promise<void> {
    if (state.record) await this.env.REGISTRY.put(registryKey(state.alias), JSON.stringify(state.record));
    if (pointer && state.active) await this.env.REGISTRY.put(activeKey(state.alias), state.active);
  }

  /** Makes sure the alarm fires by `at` (an earlier one stays). */
  async #wakeAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  #switch(state: AliasState, version: string, reason: Activation['reason']): ActivationChange {
    (state.record as RegistryRecord).history.push({ version, at: new Date().toISOString(), reason });
    state.active = version;
    return { alias: state.alias, version, by: reason };
  }

  /** Claims `version` for a publish about to write its artifacts; 409 when it exists or is being published. */
  reserve(alias: string, version: string): Promise<WriteOutcome<null>> {
    return this.#serially(async () => {
      const state = await this.#load(alias);
      if (state.record?.versions.some((v) => v.version === version))
        return refuse(409, `model ${alias} version ${version} already exists; versions are immutable`, {
          alias,
          version,
        });
      if ((state.reserved[version] ?? 0) > Date.now())
        return refuse(409, `model ${alias} version ${version} is being published by another request`, {
          alias,
          version,
        });
      state.reserved[version] = Date.now() + RESERVATION_MS;
      await this.ctx.storage.put('state', state);
      return { ok: true, value: null };
    });
  }

  /** Drops the claim of a publish that failed before committing. */
  release(alias: string, version: string): Promise<void> {
    return this.#serially(async () => {
      const state = await this.#load(alias);
      delete state.reserved[version];
      await this.ctx.storage.put('state', state);
    });
  }

  /** Adds a version whose artifacts are stored; activates it when asked or when it is the alias's first. */
  commit(alias: string, entry: ModelVersion, activate: boolean): Promise<WriteOutcome<{ active: boolean }>> {
    return this.#serially(async () => {
      const state = await this.#load(alias);
      delete state.reserved[entry.version];
      state.record ??= { versions: [], history: [] };
      if (state.record.versions.some((v) => v.version === entry.version))
        return refuse(409, `model ${alias} version ${entry.version} already exists; versions are immutable`, {
          alias,
          version: entry.version,
        });
      state.record.versions.push(entry);
      const active = activate || state.record.history.length === 0;
      await this.#save(state, active ? this.#switch(state, entry.version, 'publish') : undefined);
      return { ok: true, value: { active } };
    });
  }

  /** Makes `version` the active one. */
  activate(alias: string, version: string): Promise<WriteOutcome<ActiveResponse>> {
    return this.#serially(async () => {
      const state = await this.#load(alias);
      if (!state.record) return unknownAlias(alias);
      if (!state.record.versions.some((v) => v.version === version))
        return refuse(404, `model ${alias} has no version ${JSON.stringify(version)}`, {
          alias,
          version,
          available: state.record.versions.map((v) => v.version),
        });
      const previous = state.active;
      await this.#save(state, this.#switch(state, version, 'activate'));
      return { ok: true, value: { alias, active: version, previous } };
    });
  }

  /** Re-activates the version that was active before the current one (walking back past the current one). */
  rollback(alias: string): Promise<WriteOutcome<ActiveResponse>> {
    return this.#serially(async () => {
      const state = await this.#load(alias);
      if (!state.record) return unknownAlias(alias);
      const current = state.active;
      const earlier = [...state.record.history].reverse().find((h) => h.version !== current);
      if (!current || !earlier)
        return refuse(409, `model ${alias} has no earlier active version to roll back to`, {
          alias,
          active: current,
        });
      await this.#save(state, this.#switch(state, earlier.version, 'rollback'));
      return { ok: true, value: { alias, active: earlier.version, previous: current } };
    });
  }

  /** Redoes a refused KV copy, in turn with the writes (so it never overwrites a newer one). */
  async #syncKv(): Promise<void> {
    if (!(await this.ctx.storage.get<boolean>('kv-stale'))) return;
    const state = await this.ctx.storage.get<AliasState>('state');
    try {
      if (state) await this.#writeKv(state, true);
      await this.ctx.storage.delete('kv-stale');
    } catch (err) {
      console.warn(`registry: KV copy of ${state?.alias} still not written: ${(err as Error).message}`);
    }
  }

  /**
   * Writes the newest switch into Postgres' deployments table. A database that refuses, hangs or drops the
   * connection costs the attempt its deadline and a retry later (doubling delays up to 5 minutes); after a
   * day the switch is given up with an error in the log (the dashboard flags a record that disagrees with KV).
   */
  async #mirror(): Promise<void> {
    const pending = await this.ctx.storage.get<PendingMirror>('mirror');
    if (!pending || (pending.retryAt ?? 0) > Date.now()) return;
    const failure = await mirrorActivation(this.env.HYPERDRIVE.connectionString, pending);
    const latest = await this.ctx.storage.get<PendingMirror>('mirror');
    if (latest?.seq !== pending.seq) return; // a newer switch replaced it meanwhile: that one is next
    const what = `${pending.by} of ${pending.alias}@${pending.version}`;
    if (!failure || Date.now() - pending.at > MIRROR_GIVE_UP_MS) {
      if (failure)
        console.error(`deployments: gave up recording the ${what} in Postgres: ${failure.message}`);
      await this.ctx.storage.delete('mirror');
      return;
    }
    const attempts = pending.attempts + 1;
    const delay = Math.min(1000 * 2 ** attempts, MIRROR_MAX_DELAY_MS);
    console.warn(
      `deployments: ${what} not recorded in Postgres (attempt ${attempts}, retry in ${delay / 1000} s): ${failure.message}`,
    );
    await this.ctx.storage.put('mirror', { ...pending, attempts, retryAt: Date.now() + delay });
  }

  /**
   * Catches up what the writes left for later (a refused KV copy, the deployments mirror), then sets the
   * next alarm from what is still left in storage, so that a change made meanwhile is never missed.
   */
  override async alarm(): Promise<void> {
    await this.#serially(() => this.#syncKv());
    await this.#mirror();
    const [stale, pending] = await Promise.all([
      this.ctx.storage.get<boolean>('kv-stale'),
      this.ctx.storage.get<PendingMirror>('mirror'),
    ]);
    const next = [stale ? Date.now() + KV_RETRY_MS : null, pending ? (pending.retryAt ?? Date.now()) : null];
    const at = Math.min(...next.filter((t): t is number => t !== null));
    if (Number.isFinite(at)) await this.ctx.storage.setAlarm(at);
  }
}
