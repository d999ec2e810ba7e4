import { type Dirent, promises as fs } from 'node:fs';
import path from 'node:path';
import type { RegisterFolderRequest } from '@edgehead/contracts';
import { ApiError } from '@edgehead/contracts';
import { tooLarge } from '../http/errors.ts';
import type { IncomingFile } from './ingest.ts';

/** Resolves `requested` inside `root`, following symlinks, or refuses it (403) when it leaves the root. */
export async function resolveInsideRoot(root: string, requested: string): Promise<string> {
  const realRoot = await fs.realpath(root).catch(() => {
    throw new ApiError(503, 'unavailable', `import root ${root} does not exist`);
  });
  const target = path.resolve(realRoot, requested);
  const real = await fs.realpath(target).catch(() => {
    throw new ApiError(404, 'not_found', `folder ${requested} does not exist under the import root`, {
      field: 'path',
    });
  });
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new ApiError(403, 'forbidden', `folder ${requested} is outside the import root`, { field: 'path' });
  }
  if (!(await fs.stat(real)).isDirectory()) {
    throw new ApiError(400, 'bad_request', `${requested} is not a folder`, { field: 'path' });
  }
  return real;
}

/**
 * Lists a server folder laid out `split/label/file` (any depth above) as upload files. Symlinks are
 * refused (they could leave the root). By default images are stored by reference (`file:<path>`): every
 * replica must see the folder at the same path; `copy` stores the bytes in the database instead.
 */
export async function folderFiles(
  root: string | undefined,
  request: RegisterFolderRequest,
  maxEntries: number,
): Promise<IncomingFile[]> {
  if (root === undefined) {
    throw new ApiError(403, 'forbidden', 'folder registration is off: set EDGEHEAD_IMPORT_ROOT', {
      field: 'path',
    });
  }
  const base = await resolveInsideRoot(root, request.path);
  const files: IncomingFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries: Dirent[] = await fs.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const name = path.relative(base, full).split(path.sep).join('/');
      if (files.length >= maxEntries) {
        throw tooLarge(`folder has more than ${maxEntries} files (EDGEHEAD_GPU_MAX_ARCHIVE_ENTRIES)`, {
          limit: 'maxArchiveEntries',
          max: maxEntries,
        });
      }
      if (entry.isDirectory()) await walk(full);
      else if (entry.isSymbolicLink()) {
        files.push({ name, rejected: { reason: 'unsafe_path', message: `${name}: symlinks are refused` } });
      } else if (entry.isFile()) {
        files.push({
          name,
          read: () => fs.readFile(full).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
          ...(request.copy ? {} : { storageKey: `file:${full}` }),
        });
      }
    }
  };
  await walk(base);
  return files;
}
