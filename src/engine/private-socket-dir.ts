import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';
import { pidExists } from '../common/process-identity.js';

// The 0700 directories the relays' unix sockets live in (private-relay.ts): in the
// system's temporary directory (a socket path has a ~107-byte limit, so not under the state
// directory), named tenantctl-<kind>-*, each with the pid of the process that made it. A process
// killed with -9 cannot remove its own; the next one removes every such directory whose process is
// gone, so none piles up.

const prefix = 'tenantctl-relay-';

/** A fresh 0700 directory for a relay's socket (mkdtemp makes it 0700 before anything is in it). */
export async function privateSocketDir(): Promise<string> {
  await sweepLeftovers().catch(ignoreFailure('best effort: a leftover is an empty directory, not a risk'));
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await writeFile(path.join(dir, 'pid'), `${process.pid}\n`, { mode: 0o600 });
  return dir;
}

export async function removeSocketDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

async function sweepLeftovers(): Promise<void> {
  const tmp = os.tmpdir();
  for (const name of await readdir(tmp)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(tmp, name);
    const pid = Number((await readFile(path.join(dir, 'pid'), 'utf8').catch(failureMeans('', 'no pid file (being made, or gone): not swept'))).trim());
    if (Number.isInteger(pid) && pid > 0 && !pidExists(pid)) await removeSocketDir(dir);
  }
}
