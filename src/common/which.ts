import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** Where `program` is on `searchPath` (a PATH value), or undefined. Runs nothing. */
export async function which(program: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
