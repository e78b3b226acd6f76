import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { ensurePrivateDir } from '../../common/private-files.js';
import { ignoreFailure } from '../../common/ignore-failure.js';
import { frontdoorLayout, readState } from '../layout.js';

// What of the front door the agent's certificate renewal is given (agent/deploy.ts mounts it), and
// nothing else of the state dir: the ACME certificates folder (read-write: renewed certificates),
// the challenges folder (read-write: HTTP-01 tokens nginx serves to the CA), the account's key and
// URL (read-only), and a private CA bundle (read-only) when frontdoor.acme.caBundle names one. Not
// the door's configuration, its local CA, the operator's certificates or the gateway's login: the
// agent reloads nginx through the engine (reload-in-place.ts), it never renders.
//
// Each is mounted where the agent's own state dir puts it (the agent's configuration names its own
// stateDir), so the renewal code finds them at frontdoorLayout(its config) like on the host.

export interface AgentMount {
  source: string;
  target: string;
  mode: 'ro' | 'rw';
}

/** Whether this host's front door gets its certificates by ACME (then the agent renews them). */
export async function isAcmeDoor(config: Pick<Config, 'stateDir'>): Promise<boolean> {
  return (await readState(frontdoorLayout(config)).catch(ignoreFailure('a door state that cannot be read is no ACME door the agent renews for')))?.tls === 'acme';
}

/**
 * The mounts, their mount points made beforehand as the operator (Docker would make missing ones as
 * root, inside the agent's own folder).
 */
export async function acmeMountsForAgent(config: Config, agentStateDir: string): Promise<AgentMount[]> {
  const door = frontdoorLayout(config);
  const view = frontdoorLayout({ stateDir: agentStateDir });
  await ensurePrivateDir(door.acmeCertsDir);
  await ensurePrivateDir(view.acmeDir);
  const mounts: AgentMount[] = [
    { source: door.acmeCertsDir, target: view.acmeCertsDir, mode: 'rw' },
    { source: door.acmeChallengesDir, target: view.acmeChallengesDir, mode: 'rw' },
  ];
  for (const name of ['account.key', 'account.json']) {
    const source = path.join(door.acmeDir, name);
    if (existsSync(source)) mounts.push({ source, target: path.join(view.acmeDir, name), mode: 'ro' });
  }
  for (const m of mounts) {
    if (m.mode === 'rw') await mkdir(m.target, { recursive: true, mode: 0o700 });
    else if (!existsSync(m.target)) await writeFile(m.target, '', { mode: 0o600 });
  }
  const bundle = config.frontdoor.acme.caBundle;
  if (bundle && existsSync(bundle)) mounts.push({ source: bundle, target: bundle, mode: 'ro' });
  return mounts;
}
