import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, homeDir, loadConfig, loadOrCreateConfig, resolveEndpoints } from './config.ts';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'edgehead-cli-'));
});
afterEach(() => rm(home, { recursive: true, force: true }));

describe('config file', () => {
  it('is created once with fresh tokens, mode 0600, and read back unchanged', async () => {
    const first = await loadOrCreateConfig(home);
    expect(first.created).toBe(true);
    expect(first.config.gpuToken).toMatch(/^[0-9a-f]{64}$/);
    expect(first.config.adminToken).not.toBe(first.config.gpuToken);
    expect(first.config.dbPassword).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(configPath(home))).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateConfig(home);
    expect(second.created).toBe(false);
    expect(second.config).toEqual(first.config);
  });

  it('is null when absent and a config error naming the field when malformed', async () => {
    expect(await loadConfig(home)).toBeNull();
    await writeFile(
      configPath(home),
      JSON.stringify({ version: 1, gpuToken: 'short', adminToken: 'x'.repeat(20) }),
    );
    await expect(loadConfig(home)).rejects.toMatchObject({
      code: 'config',
      message: expect.stringMatching(/gpuToken/),
    });
    await writeFile(configPath(home), '{not json');
    await expect(loadConfig(home)).rejects.toMatchObject({
      code: 'config',
      message: expect.stringMatching(/not valid JSON/),
    });
  });

  it('writes JSON a human can read', async () => {
    await loadOrCreateConfig(home);
    expect(await readFile(configPath(home), 'utf8')).toContain('\n  "gpuToken"');
  });
});

describe('resolveEndpoints', () => {
  const file = {
    version: 1 as const,
    gpuToken: 'g'.repeat(20),
    adminToken: 'a'.repeat(20),
    apiKey: 'k1',
    gpuUrl: 'http://127.0.0.1:1000',
    edgeUrl: 'http://127.0.0.1:2000/',
    databaseUrl: null,
    dbPassword: null,
  };

  it('takes the options (a flag, else its variable) over the config file', () => {
    const e = resolveEndpoints({ gpuUrl: 'http://flag:1', apiKey: 'k2' }, file);
    expect(e.gpuUrl).toBe('http://flag:1');
    expect(e.apiKey).toBe('k2');
    expect(e.edgeUrl).toBe('http://127.0.0.1:2000');
    expect(e.dashboardUrl).toBe('http://127.0.0.1:2000/');
    expect(e.gpuToken).toBe(file.gpuToken);
  });

  it('falls back to the default ports and no tokens without a config', () => {
    const e = resolveEndpoints({}, null);
    expect(e.gpuUrl).toBe('http://127.0.0.1:8788');
    expect(e.edgeUrl).toBe('http://127.0.0.1:8787');
    expect([e.gpuToken, e.adminToken, e.apiKey]).toEqual([null, null, null]);
  });

  it('finds the home folder from --home (or EDGEHEAD_HOME), else .edgehead in the working directory', () => {
    expect(homeDir(undefined, '/w')).toBe(path.resolve('/w/.edgehead'));
    expect(homeDir('state', '/w')).toBe(path.resolve('/w/state'));
    expect(homeDir('/abs', '/w')).toBe('/abs');
  });
});
