// The variables the dashboard's tests read, in one place.

/** Debian's chromium (CI installs it with apt-get); the browser tests skip without it, except in CI. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `CI` is set (not empty, `false` or `0`), as `.ci/run` sets it: a missing browser fails instead of skipping. */
export const IN_CI = !['', 'false', '0'].includes(process.env.CI ?? '');

/** This process's environment, for the programs the tests start (wrangler) to extend. */
export const inheritedEnv = (): NodeJS.ProcessEnv => ({ ...process.env });
