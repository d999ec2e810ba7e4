import { describe, expect, it } from 'vitest';
import { type RestartPolicy, type ServiceSpec, SupervisedService, waitForLine } from './supervisor.ts';

/** Fast timings: the same doubling and limits as `up`'s, in tens of milliseconds. */
const POLICY: RestartPolicy = { initialDelayMs: 40, maxDelayMs: 100, maxCrashes: 4, windowMs: 60_000 };

/** A node child running `script`; it serves once it printed `ready <pid>`. */
function nodeService(script: string): ServiceSpec {
  return {
    child: () => ({
      name: 'svc',
      command: process.execPath,
      args: ['-e', script],
      cwd: process.cwd(),
      env: {},
    }),
    ready: (child) => waitForLine(child, /^ready \d+$/),
  };
}

function recorder() {
  const lines: string[] = [];
  return { lines, log: (service: string, line: string) => lines.push(`${service}: ${line}`) };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
};

describe('a supervised service', () => {
  it('comes back after a SIGKILL, with the delay doubling per crash, and says so', async () => {
    const { lines, log } = recorder();
    const service = new SupervisedService(
      'svc',
      nodeService('console.log("ready " + process.pid); setInterval(() => {}, 1000)'),
      log,
      POLICY,
    );
    await service.start();
    const pids = [service.child?.process.pid];
    for (let crash = 1; crash <= 3; crash++) {
      const before = service.child;
      before?.process.kill('SIGKILL');
      await until(() => lines.includes(`up: svc is back (restart ${crash})`));
      expect(service.child).not.toBe(before);
      pids.push(service.child?.process.pid);
    }
    expect(new Set(pids).size).toBe(4);
    expect(lines.filter((l) => l.includes('exited unexpectedly'))).toEqual([
      'up: svc exited unexpectedly (SIGKILL); restarting it in 0.04 s (crash 1 of 4 allowed within 60 s)',
      'up: svc exited unexpectedly (SIGKILL); restarting it in 0.08 s (crash 2 of 4 allowed within 60 s)',
      'up: svc exited unexpectedly (SIGKILL); restarting it in 0.1 s (crash 3 of 4 allowed within 60 s)',
    ]);
    expect(await service.stop()).toBe('SIGTERM');
  });

  it('gives up on a service that keeps crashing and reports its last exit and output', async () => {
    const { lines, log } = recorder();
    const service = new SupervisedService(
      'svc',
      nodeService(
        'console.log("ready " + process.pid); setTimeout(() => { console.error("boom: disk full"); process.exit(3) }, 30)',
      ),
      log,
      POLICY,
    );
    await service.start();
    const failure = await service.failed;
    expect(failure).toMatchObject({ service: 'svc', crashes: 4, status: 3 });
    expect(failure.tail.at(-1)).toBe('boom: disk full');
    expect(lines.at(-1)).toBe('up: svc crashed 4 times within 60 s (last exit: 3); not restarting it');
    expect(service.child).toBeNull();
  });

  it('does not restart what stop() ended, nor a restart that was still waiting', async () => {
    const { lines, log } = recorder();
    const slow = { ...POLICY, initialDelayMs: 60_000, maxDelayMs: 60_000 };
    const service = new SupervisedService(
      'svc',
      nodeService('console.log("ready " + process.pid); setInterval(() => {}, 1000)'),
      log,
      slow,
    );
    await service.start();
    service.child?.process.kill('SIGKILL');
    await until(() => lines.some((l) => l.includes('restarting it in 60 s')));
    expect(await service.stop()).toBeNull();
    await new Promise((r) => setTimeout(r, 100));
    expect(service.child).toBeNull();
    expect(lines.some((l) => l.includes('is back'))).toBe(false);
  });

  it('reports a failed first start instead of retrying it', async () => {
    const { lines, log } = recorder();
    const service = new SupervisedService(
      'svc',
      nodeService('console.error("cannot bind"); process.exit(4)'),
      log,
      POLICY,
    );
    await expect(service.start()).rejects.toThrow('svc exited (4) before it was ready');
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toEqual(['svc: cannot bind']);
  });
});
