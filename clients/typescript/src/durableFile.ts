/** Replacing a small file so that a crash leaves either the old or the new content, never a mix. */

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes `text` to a temporary file, fsyncs it, renames it over `file` and fsyncs the directory,
 * so the new content survives a crash once this resolves. One call per file at a time: the
 * temporary file's name is fixed per process.
 */
export async function replaceFileDurably(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  const handle = await fs.open(temp, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
