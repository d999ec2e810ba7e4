import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonSchema, intFlag, parseCommand } from './args.ts';
import { upSettings } from './commands/up.ts';
import { CliError } from './errors.ts';

const schema = commonSchema.extend({ epochs: intFlag(1, 100).optional() });
const spec = { epochs: { type: 'string' } } as const;

describe('parseCommand', () => {
  it('coerces numeric flags and keeps positionals', () => {
    const { options, positionals } = parseCommand(['run-1', '--epochs', '30', '--json'], spec, schema, {
      min: 1,
    });
    expect(options.epochs).toBe(30);
    expect(options.json).toBe(true);
    expect(positionals).toEqual(['run-1']);
  });

  it('rejects an out-of-range flag naming the flag and the value received', () => {
    const run = () => parseCommand(['--epochs', '0'], spec, schema);
    expect(run).toThrow(CliError);
    expect(run).toThrow(/--epochs "0"/);
  });

  it('rejects unknown flags as usage errors', () => {
    expect(() => parseCommand(['--epoch', '3'], spec, schema)).toThrow(
      expect.objectContaining({ code: 'usage' }),
    );
  });

  it('enforces the number of positionals with the usage line', () => {
    expect(() => parseCommand([], spec, schema, { min: 1, usage: 'edgehead x <id>' })).toThrow(
      /at least 1.*edgehead x <id>/,
    );
    expect(() => parseCommand(['a', 'b'], spec, schema, { max: 1 })).toThrow(/at most 1.*a b/);
  });

  it('validates URLs of the common options', () => {
    expect(() => parseCommand(['--gpu-url', 'not a url'], {}, commonSchema)).toThrow(/--gpu-url/);
    expect(parseCommand(['--gpu-url', 'http://h:1'], {}, commonSchema).options['gpu-url']).toBe('http://h:1');
  });

  it('accepts a custom zod schema for enum flags', () => {
    const s = commonSchema.extend({ mode: z.enum(['a', 'b']) });
    expect(() => parseCommand(['--mode', 'c'], { mode: { type: 'string' } }, s)).toThrow(/--mode "c"/);
  });
});

describe('upSettings', () => {
  it('uses fixed default ports and the embedded database without DATABASE_URL', () => {
    const s = upSettings([], {});
    expect([s.gpuPort, s.edgePort, s.dbPort]).toEqual([8788, 8787, 54329]);
    expect(s.databaseUrl).toBeNull();
    expect(s.home.endsWith('.edgehead')).toBe(true);
  });

  it('prefers flags over the environment', () => {
    const s = upSettings(['--edge-port', '9001'], {
      EDGEHEAD_EDGE_PORT: '9002',
      EDGEHEAD_GPU_PORT: '9003',
      DATABASE_URL: 'postgres://x/y',
    });
    expect(s.edgePort).toBe(9001);
    expect(s.gpuPort).toBe(9003);
    expect(s.databaseUrl).toBe('postgres://x/y');
  });

  it('names a bad port variable', () => {
    expect(() => upSettings([], { EDGEHEAD_DB_PORT: 'seventy' })).toThrow(/EDGEHEAD_DB_PORT="seventy"/);
  });
});
