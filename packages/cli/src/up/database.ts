// The database side of `up`: the embedded PostgreSQL cluster under <home>/pg, supervised, and migrations.
import path from 'node:path';
import {
  applyMigrations,
  EMBEDDED_POSTGRES_MAJOR,
  EmbeddedPostgresError,
  explainExit,
  prepareEmbeddedPostgres,
  READY_LINE,
} from '@edgehead/db/node';
import { configPath } from '../config.ts';
import { CliError } from '../errors.ts';
import { type LogSink, SupervisedService, waitForLine } from './supervisor.ts';

/** A CliError for a failure of the embedded server (a busy port keeps its own exit status). */
function embeddedFailure(error: unknown): unknown {
  if (!(error instanceof EmbeddedPostgresError)) return error;
  const code =
    error.code === 'port_in_use' ? 'port_in_use' : error.code === 'start_failed' ? 'failed' : 'config';
  return new CliError(code, error.message, { reason: error.code }, { cause: error });
}

/**
 * Prepares the embedded cluster under `<home>/pg` (created on first start; refused with what to do when it
 * cannot be used) and supervises its server; resolves once it serves, with its URL.
 */
export async function startEmbeddedDatabase(
  home: string,
  port: number,
  password: string,
  log: LogSink,
): Promise<{ service: SupervisedService; url: string }> {
  const dataDir = path.join(home, 'pg');
  const launch = await prepareEmbeddedPostgres({ dataDir, port, password }).catch((error: unknown) => {
    throw embeddedFailure(error);
  });
  if (launch.state === 'created')
    log('up', `created a PostgreSQL ${EMBEDDED_POSTGRES_MAJOR} cluster in ${dataDir}`);
  if (launch.state === 'recovering') {
    log(
      'up',
      `${dataDir} was not shut down cleanly (postmaster.pid of pid ${launch.crashedPid} left behind): ` +
        'PostgreSQL recovers it from its write-ahead log',
    );
  }
  log(
    'up',
    `starting the embedded PostgreSQL ${EMBEDDED_POSTGRES_MAJOR} on 127.0.0.1:${launch.port} (${dataDir})`,
  );
  const service = new SupervisedService(
    'db',
    {
      child: () => ({
        name: 'db',
        command: launch.command,
        args: launch.args,
        cwd: launch.dataDir,
        env: launch.env,
        ...(launch.user ? { uid: launch.user.uid, gid: launch.user.gid } : {}),
        stopSignal: 'SIGINT', // fast shutdown: sessions end, open transactions roll back, data is flushed
      }),
      ready: (child) =>
        waitForLine(child, READY_LINE).catch(async () => {
          throw embeddedFailure(explainExit(launch, child.tail, await child.exited));
        }),
    },
    log,
  );
  await service.start();
  return { service, url: launch.url };
}

/** Applies the migrations; a refused password of the embedded server says where the password lives. */
export async function migrate(url: string, home: string, embedded: boolean): Promise<void> {
  try {
    await applyMigrations(url);
  } catch (error) {
    if (!embedded || (error as { code?: string }).code !== '28P01') throw error;
    throw new CliError(
      'config',
      `the embedded PostgreSQL in ${path.join(home, 'pg')} refused the password in ${configPath(home)} ` +
        '(dbPassword): that file was recreated after the cluster. Put the earlier file back, or move the pg ' +
        'folder away to start with an empty database',
      undefined,
      { cause: error },
    );
  }
}
