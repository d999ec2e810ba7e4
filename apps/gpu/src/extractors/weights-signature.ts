import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * What changes when weights are replaced at the same local path: size and modification time of the file,
 * or of every file in the folder (a TF.js folder's model.json and shards, overwritten in place, leave the
 * folder's own mtime alone). Empty for URLs (their bytes are cached by content) and for a path that cannot
 * be read (the load itself reports that).
 */
export async function weightsSignature(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) return '';
  try {
    const info = await stat(source);
    if (!info.isDirectory()) return `${info.size}:${info.mtimeMs}`;
    const names = (await readdir(source)).sort();
    const files = await Promise.all(
      names.map(async (name) => {
        const f = await stat(path.join(source, name));
        return f.isFile() ? `${name}:${f.size}:${f.mtimeMs}` : '';
      }),
    );
    return files.filter(Boolean).join('|');
  } catch {
    return '';
  }
}
