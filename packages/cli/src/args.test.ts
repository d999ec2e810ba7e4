import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, flag, intFlag, parseCommand } from './args.ts';
import { up as upCommand, upSettings } from './commands/up.ts';
import { gpuOptions } from './common-options.ts';
import { parseCliEnv } from './env.ts';

const env = parseCliEnv({});

const example = defineCommand({
  name: 'example',
  summary: 'a command for the tests',
  arguments: [['<id>', 'an id']],
  options: {
    ...gpuOptions,
    epochs: flag('--epochs <n>', 'epochs', intFlag(1, 100).optional()),
    mode: flag('--mode <mode>', 'a mode', z.enum(['a', 'b']), { default: 'a' }),
    wait: flag('--no-wait', 'do not wait', z.boolean()),
  },
  run: async () => 0,
});

describe('parseCommand', () => {
  it('coerces numeric flags, applies defaults and keeps positionals', async () => {
    const { options, args } = await parseCommand(example, ['run-1', '--epochs', '30', '--json'], env);
    expect(options).toMatchObject({ epochs: 30, json: true, mode: 'a', wait: true, home: '.edgehead' });
    expect(args).toEqual(['run-1']);
    expect((await parseCommand(example, ['x', '--no-wait'], env)).options.wait).toBe(false);
  });

  it('rejects an out-of-range flag naming the flag and the value received', async () => {
    await expect(parseCommand(example, ['x', '--epochs', '0'], env)).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringMatching(/--epochs "0"/),
    });
  });

  it('names an unknown option with the closest known one', async () => {
    await expect(parseCommand(example, ['x', '--epoch', '3'], env)).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringMatching(/unknown option '--epoch'.*--epochs/),
    });
  });

  it('enforces the number of positionals', async () => {
    await expect(parseCommand(example, [], env)).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringMatching(/missing required argument 'id'/),
    });
    await expect(parseCommand(example, ['a', 'b'], env)).rejects.toMatchObject({
      message: expect.stringMatching(/too many arguments/),
    });
  });

  it('validates URLs of the common options', async () => {
    await expect(parseCommand(example, ['x', '--gpu-url', 'not a url'], env)).rejects.toThrow(/--gpu-url/);
    const { options } = await parseCommand(example, ['x', '--gpu-url', 'http://h:1'], env);
    expect(options.gpuUrl).toBe('http://h:1');
  });

  it('checks enum flags against their choices', async () => {
    await expect(parseCommand(example, ['x', '--mode', 'c'], env)).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringMatching(/--mode.*'c'.*a, b/),
    });
  });

  it('falls back to the variable of an option; the flag wins over it', async () => {
    const withEnv = parseCliEnv({ EDGEHEAD_GPU_URL: 'http://env:1', EDGEHEAD_HOME: 'state' });
    const viaEnv = await parseCommand(example, ['x'], withEnv);
    expect(viaEnv.options).toMatchObject({ gpuUrl: 'http://env:1', home: 'state' });
    const viaFlag = await parseCommand(example, ['x', '--gpu-url', 'http://flag:1'], withEnv);
    expect(viaFlag.options.gpuUrl).toBe('http://flag:1');
  });

  it('refuses a bad variable as a configuration error naming the variable and its option', async () => {
    await expect(
      parseCommand(example, ['x'], parseCliEnv({ EDGEHEAD_GPU_URL: 'nope' })),
    ).rejects.toMatchObject({
      code: 'config',
      message: expect.stringMatching(/EDGEHEAD_GPU_URL="nope" \(for --gpu-url\)/),
    });
  });

  it('treats an empty variable as unset', async () => {
    const { options } = await parseCommand(example, ['x'], parseCliEnv({ EDGEHEAD_GPU_URL: '' }));
    expect(options.gpuUrl).toBeUndefined();
  });
});

describe('upSettings', () => {
  const settings = async (argv: string[], vars: Record<string, string> = {}) =>
    upSettings((await parseCommand(upCommand, argv, parseCliEnv(vars))).options);

  it('uses fixed default ports and the embedded database without DATABASE_URL', async () => {
    const s = await settings([]);
    expect([s.gpuPort, s.edgePort, s.dbPort]).toEqual([8788, 8787, 54329]);
    expect(s.databaseUrl).toBeNull();
    expect(s.home.endsWith('.edgehead')).toBe(true);
  });

  it('prefers flags over the environment', async () => {
    const s = await settings(['--edge-port', '9001'], {
      EDGEHEAD_EDGE_PORT: '9002',
      EDGEHEAD_GPU_PORT: '9003',
      DATABASE_URL: 'postgres://x/y',
    });
    expect(s.edgePort).toBe(9001);
    expect(s.gpuPort).toBe(9003);
    expect(s.databaseUrl).toBe('postgres://x/y');
  });

  it('names a bad port variable', async () => {
    await expect(settings([], { EDGEHEAD_DB_PORT: 'seventy' })).rejects.toThrow(/EDGEHEAD_DB_PORT="seventy"/);
  });
});
