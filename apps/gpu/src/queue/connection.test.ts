import { createRequire } from 'node:module';
import { isConnectionError } from '@edgehead/db';
import { describe, expect, it } from 'vitest';
import { retryOnConnectionLoss } from './connection.ts';
import { isFireAndForget } from './index.ts';

const require = createRequire(import.meta.url);
// pg-boss's own statement builders, so a pg-boss upgrade that changes them fails here, not in production
const plans = require('pg-boss/src/plans.js') as Record<string, ((schema: string) => string) | undefined>;

/** pg-boss's statement `name` for schema pgboss; throws when pg-boss no longer has that builder. */
function statement(name: string): string {
  const build = plans[name];
  if (typeof build !== 'function') throw new Error(`pg-boss/src/plans.js has no ${name}()`);
  return build('pgboss');
}

const lost = (code: string) => Object.assign(new Error(`connection: ${code}`), { code });

describe('database connection loss', () => {
  it('tells a lost connection (also wrapped, as drizzle does) from a failed statement', () => {
    expect(isConnectionError(lost('ECONNREFUSED'))).toBe(true);
    expect(isConnectionError(lost('CONNECTION_CLOSED'))).toBe(true);
    expect(isConnectionError(new Error('query failed', { cause: lost('57P01') }))).toBe(true);
    expect(isConnectionError(lost('23505'))).toBe(false);
    expect(isConnectionError(new Error('plain'))).toBe(false);
    expect(isConnectionError(null)).toBe(false);
  });

  it('runs a statement again while the connection is lost, and not after a real failure', async () => {
    let calls = 0;
    const value = await retryOnConnectionLoss(
      async () => {
        calls++;
        if (calls < 3) throw lost('ECONNRESET');
        return 'ok';
      },
      { delayMs: 1 },
    );
    expect([value, calls]).toEqual(['ok', 3]);

    let failing = 0;
    await expect(
      retryOnConnectionLoss(async () => {
        failing++;
        throw lost('23505');
      }),
    ).rejects.toThrow('23505');
    expect(failing).toBe(1);
  });

  it('gives up after its window with the last connection error', async () => {
    let calls = 0;
    await expect(
      retryOnConnectionLoss(
        async () => {
          calls++;
          throw lost('ECONNREFUSED');
        },
        { windowMs: 30, delayMs: 5 },
      ),
    ).rejects.toThrow('ECONNREFUSED');
    expect(calls).toBeGreaterThan(1);
  });

  it("recognises exactly pg-boss's complete and fail-by-id statements as fire-and-forget", () => {
    expect(isFireAndForget(statement('completeJobs'))).toBe(true);
    expect(isFireAndForget(statement('failJobsById'))).toBe(true);
    const others = ['failJobsByTimeout', 'cancelJobs', 'resumeJobs', 'deleteJobs', 'getQueues'];
    expect(others.map((name) => [name, isFireAndForget(statement(name))])).toEqual(
      others.map((name) => [name, false]),
    );
  });
});
