import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from './errors.ts';

const run = promisify(execFile);

/** The OS user the server runs as when this process is root (PostgreSQL refuses to run as root). */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

const NAME = 'postgres';

async function lookup(name: string): Promise<ServerUser | null> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { name, uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return null;
  }
}

/**
 * Null when this process is not root (the server runs as the current user); as root, the `postgres` user,
 * created as a system user when missing (CI containers run as root).
 */
export async function serverUser(): Promise<ServerUser | null> {
  if (process.getuid?.() !== 0) return null;
  const found = await lookup(NAME);
  if (found) return found;
  try {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', NAME]);
  } catch (cause) {
    throw new EmbeddedPostgresError(
      'permission',
      `PostgreSQL does not run as root and there is no '${NAME}' user to run it as; creating one failed ` +
        `(${(cause as Error).message.trim()}): create it (useradd --system ${NAME}) or run as another user`,
      { cause },
    );
  }
  const created = await lookup(NAME);
  if (!created) throw new EmbeddedPostgresError('permission', `useradd ${NAME} created no user`);
  return created;
}

/**
 * Throws when `user` cannot enter every folder above `dir` (e.g. a root-only home directory), since the
 * server would then fail with a bare "permission denied". Supplementary groups do not count: Node drops
 * them when it starts a process as another user.
 */
export async function assertReachable(dir: string, user: ServerUser): Promise<void> {
  const parents: string[] = [];
  for (let p = path.dirname(path.resolve(dir)); ; p = path.dirname(p)) {
    parents.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parents) {
    const s = await stat(p).catch(() => null);
    if (!s) continue;
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      throw new EmbeddedPostgresError(
        'permission',
        `the embedded PostgreSQL runs as the user '${user.name}' (this process is root) and cannot enter ` +
          `${p} (mode ${(s.mode & 0o777).toString(8)}), so it cannot reach ${dir}: ` +
          `allow it with chmod o+x ${p}, or keep the data elsewhere (--home / EDGEHEAD_HOME)`,
      );
    }
  }
}
