import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandGroup, CommandSpec } from './args.ts';
import { COMMANDS, runCli } from './cli.ts';
import { parseCliEnv } from './env.ts';
import { freePort } from './up/ports.ts';

/** Runs the CLI in this process with `vars` as its environment; resolves with the exit code and output. */
async function run(argv: string[], vars: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await runCli(argv, parseCliEnv(vars));
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Every runnable command with its path: `['datasets', 'create']`, `['train']`, ... */
function leaves(specs: readonly (CommandSpec | CommandGroup)[], above: string[] = []) {
  return specs.flatMap((spec): { path: string[]; spec: CommandSpec }[] =>
    'commands' in spec
      ? leaves(spec.commands, [...above, spec.name])
      : [{ path: [...above, spec.name], spec }],
  );
}

const ALL = leaves(COMMANDS);
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'edgehead-cli-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('edgehead --help', () => {
  it('lists every command and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const spec of COMMANDS) expect(stdout).toMatch(new RegExp(`^  ${spec.name}\\b`, 'm'));
    expect(oneLine(stdout)).toContain('Exit codes: 0 ok, 1 failed, 2 usage, 3 configuration, 4 port in use');
  });

  it.each(ALL.map(({ path: p, spec }) => [p.join(' '), p, spec] as const))(
    '`%s --help` shows every option with its default and its variable',
    async (_name, commandPath, spec) => {
      const { code, stdout, stderr } = await run([...commandPath, '--help']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const help = oneLine(stdout);
      expect(help).toContain(`Usage: edgehead ${commandPath.join(' ')} [options]`);
      for (const [name] of spec.arguments ?? []) expect(help).toContain(name.replace(/[<>[\].]/g, ''));
      for (const f of Object.values(spec.options)) {
        const long = f.flags.split(/[ ,]+/).find((part) => part.startsWith('--')) as string;
        expect(help).toContain(long);
        if (f.default !== undefined) expect(help).toContain(`default: ${String(f.default)}`);
        if (f.fallback) expect(help).toContain(`default: ${oneLine(f.fallback)}`);
        if (f.env) expect(help).toContain(`env: ${f.env}`);
      }
    },
  );

  it('answers `edgehead help <command>` too', async () => {
    const { code, stdout } = await run(['help', 'train']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: edgehead train');
  });

  it('prints the usage to stderr and exits 2 without a command', async () => {
    const bare = await run([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: edgehead');
    const group = await run(['datasets']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: edgehead datasets');
  });
});

describe('usage errors (exit 2)', () => {
  it.each(ALL.map(({ path: p }) => [p.join(' '), p] as const))(
    '`%s` names an unknown option',
    async (name, commandPath) => {
      const { code, stderr, stdout } = await run([...commandPath, '--no-such-option']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(`edgehead ${name}: unknown option '--no-such-option'`);
      expect(stderr).toContain(`\`edgehead ${name} --help\``);
    },
  );

  it('suggests the option or command that was meant', async () => {
    expect((await run(['train', '--dataset', 'd', '--epoch', '3'])).stderr).toContain(
      "unknown option '--epoch' (did you mean --epochs?)",
    );
    const typo = await run(['rollbak', 'demo']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'rollbak' (did you mean rollback?)");
  });

  it('names a missing option, a bad value and a bad choice', async () => {
    expect((await run(['train'])).stderr).toContain('--dataset <id|name> is required');
    expect((await run(['train', '-d', 'd', '--epochs', '0'])).stderr).toMatch(/--epochs "0": .*>=1/);
    const choice = await run(['extract', '-d', 'd', '--pooling', 'max']);
    expect(choice.code).toBe(2);
    expect(choice.stderr).toContain("argument 'max' is invalid. Allowed choices are none, avg");
  });

  it('names the key of a bad --augment list', async () => {
    for (const [spec, key] of [
      ['copies=0', 'copies'],
      ['copies=51,seed=1', 'copies'],
      ['copies=3,brightness=2', 'brightness'],
    ]) {
      const bad = await run(['extract', '-d', 'd', '--augment', spec as string]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(new RegExp(`--augment "${spec}": ${key}: `));
    }
  });

  it('answers with the error as JSON on stdout with --json', async () => {
    const { code, stdout } = await run(['runs', 'list', '--limit', '0', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({
      error: { code: 'usage', message: expect.stringContaining('--limit "0"') },
    });
  });
});

describe('exit codes', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'unauthorized', message: 'missing or invalid bearer token' } }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is 3 for a bad variable, naming it and the option it feeds', async () => {
    const { code, stderr } = await run(['datasets', 'list'], { EDGEHEAD_GPU_URL: 'not a url' });
    expect(code).toBe(3);
    expect(stderr).toContain('EDGEHEAD_GPU_URL="not a url" (for --gpu-url)');
  });

  it('is 3 for a missing token', async () => {
    const { code, stderr } = await run(['ingest', home, '--home', home]);
    expect(code).toBe(3);
    expect(stderr).toContain('no gpu service token: pass --gpu-token, set EDGEHEAD_GPU_TOKEN');
  });

  it('is 5 for a service that does not answer', async () => {
    const closed = await freePort();
    const { code, stderr } = await run(['datasets', 'list', '--home', home], {
      EDGEHEAD_GPU_URL: `http://127.0.0.1:${closed}`,
    });
    expect(code).toBe(5);
    expect(stderr).toContain('is unreachable');
  });

  it('is 6 for a service that answers an error, with its code and message', async () => {
    const { code, stderr, stdout } = await run([
      'models',
      '--edge-url',
      url,
      '--admin-token',
      't',
      '--home',
      home,
      '--json',
    ]);
    expect(code).toBe(6);
    expect(stderr).toContain('edge answered 401 to GET /admin/models: unauthorized');
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'api', details: { status: 401 } } });
  });
});
