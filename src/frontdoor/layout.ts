import path from 'node:path';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';

// Where the front door keeps its files on this machine: <stateDir>/frontdoor/ (one per state dir,
// like the local admin database's password).
//
//   state.json            written by `frontdoor init`: its presence is what turns the hooks on
//   docker-compose.yml    nginx and the gateway (compose project frontdoor.project)
//   gateway.json          the gateway's settings and admin database URL (0600)
//   conf/                 bind-mounted read-only into nginx at /etc/tenantctl
//     live -> gen-000042  the generation nginx serves (a relative symlink, swapped atomically)
//     gen-000042/         a complete configuration: nginx.conf, locations.conf, tls/, t/<id>/
//   tls/                  base.crt|key (the operator's, or issued by the local CA), ca.crt|key (--self-signed)
//   domains/              <domain>.crt|key: custom domains' certificates
//   snippets/             <id>.conf: the operator's own nginx directives for a tenant's server blocks
//   acme/                 frontdoor init --acme (src/frontdoor/acme/):
//     account.key|json    the ACME account's key (0600) and URL
//     challenges/         HTTP-01 tokens (0644 in a 0755 folder: they are public), mounted read-only into nginx
//     certs/              <hostname>.crt|key (0600): each tenant host name's and custom domain's certificate
//
// Not here: the usage files (usage.log, written by nginx; <epoch second>.log, renamed each second by
// nginx's rotator, counted and deleted by the gateway) live in the compose project's `usage` volume
// (stack.ts says why).

export interface FrontdoorLayout {
  root: string;
  stateFile: string;
  composeFile: string;
  gatewayConfig: string;
  confDir: string;
  liveLink: string;
  tlsDir: string;
  domainsDir: string;
  snippetsDir: string;
  acmeDir: string;
  acmeChallengesDir: string;
  acmeCertsDir: string;
}

export function frontdoorLayout(config: Pick<Config, 'stateDir'>): FrontdoorLayout {
  const root = path.join(config.stateDir, 'frontdoor');
  return {
    root,
    stateFile: path.join(root, 'state.json'),
    composeFile: path.join(root, 'docker-compose.yml'),
    gatewayConfig: path.join(root, 'gateway.json'),
    confDir: path.join(root, 'conf'),
    liveLink: path.join(root, 'conf', 'live'),
    tlsDir: path.join(root, 'tls'),
    domainsDir: path.join(root, 'domains'),
    snippetsDir: path.join(root, 'snippets'),
    acmeDir: path.join(root, 'acme'),
    acmeChallengesDir: path.join(root, 'acme', 'challenges'),
    acmeCertsDir: path.join(root, 'acme', 'certs'),
  };
}

/** Inside the nginx container. */
export const containerConfDir = '/etc/tenantctl';
export const generationDirName = (generation: number) => `gen-${String(generation).padStart(6, '0')}`;

export interface LastSync {
  at: string;
  ok: boolean;
  generation: number | null;
  /** Why the last sync failed (the live generation kept serving). */
  error?: string;
  /** Tenants whose new configuration nginx -t refused: their last good one stays live. */
  refused?: { tenant: string; reason: string }[];
}

export interface FrontdoorState {
  version: 1;
  project: string;
  initializedAt: string;
  /** acme: each host name's own certificate by ACME; base.crt (from the local CA) only answers unknown names. */
  tls: 'self-signed' | 'operator' | 'acme';
  lastSync?: LastSync;
}

/** The state file, or undefined when the front door was never initialised here (the hooks then do nothing). */
export async function readState(layout: FrontdoorLayout): Promise<FrontdoorState | undefined> {
  try {
    return JSON.parse(await readFile(layout.stateFile, 'utf8')) as FrontdoorState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Cheap: one stat, for hooks that run after every tenant change. */
export async function isInitialised(layout: FrontdoorLayout): Promise<boolean> {
  return stat(layout.stateFile).then(() => true, () => false);
}

export async function writeState(layout: FrontdoorLayout, state: FrontdoorState): Promise<void> {
  const temp = `${layout.stateFile}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, layout.stateFile);
}

/** A tenant's address through the front door: https://<id>.<baseDomain>[:httpsPort]. */
export function tenantDoorUrl(config: Pick<Config, 'frontdoor'>, id: string): string {
  const port = config.frontdoor.httpsPort === 443 ? '' : `:${config.frontdoor.httpsPort}`;
  return `https://${id}.${config.frontdoor.baseDomain}${port}`;
}
