import { z } from 'zod';

/** A dependency probe: reached in `ms`, or why not. */
const probe = <T extends z.ZodRawShape>(extra: T) =>
  z.union([
    z.object({ ok: z.literal(true), ms: z.number(), ...extra }),
    z.object({ ok: z.literal(false), error: z.string() }),
  ]);

/**
 * `GET /health` of the gpu service: the tfjs backend, database and queue reachability, and the extractors
 * loaded so far; answered with 503 when the database, the queue or the backend is down.
 */
export const gpuHealth = z.object({
  status: z.enum(['ok', 'degraded']),
  backend: z.union([
    z.object({
      /** edgehead's name for it: `tfjs-node-gpu`, `tfjs-node`, `wasm` or `cpu`. */
      name: z.string(),
      tfBackend: z.string(),
      simd: z.boolean().nullable(),
      skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
      tfjsVersion: z.string(),
    }),
    z.object({ error: z.string() }),
  ]),
  db: probe({}),
  queue: probe({ queues: z.array(z.string()) }),
  extractors: z.array(
    z.object({
      backbone: z.string(),
      /** Where the weights came from, without secrets: a URL's origin and path, a local path's last segment. */
      weights: z.string(),
      sha256: z.string().nullable(),
      backend: z.string(),
    }),
  ),
  /** Worker threads per extractor on single-threaded backends. */
  poolSize: z.number().int(),
});
export type GpuHealth = z.infer<typeof gpuHealth>;

/** `GET /health` of the edge. */
export const edgeHealth = z.object({ status: z.literal('ok') });
