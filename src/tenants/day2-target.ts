import { access, readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { parse } from 'yaml';
import { describeServices } from '../templates/render-compose.js';
import { readNamedEnvFileSecrets, readNamedSecretFiles } from '../secrets/env-file.js';
import { openSecretBox } from '../secrets/master-key.js';
import { readNamedTenantSecrets } from '../secrets/sealed-store.js';
import type { NamedSecrets } from '../secrets/generate.js';
import type { AdminDb } from '../admin-db/database.js';
import { parseTenantId } from './input.js';
import { tenantPaths, type TenantPaths } from './files.js';
import { TenantRegistry, wrongHost, type TenantRecord, type TenantStatus } from './registry.js';

// What every day-2 command (stop, start, restart, logs, exec, psql, redis-cli) first needs: the
// tenant on record, in a status that allows the verb, on this Docker host, and its rendered files.

export interface Day2Target {
  record: TenantRecord;
  /** What the command does to it, in words ("be backed up"), for refusals. */
  verb: string;
  paths: TenantPaths;
  target: ComposeTarget;
}

/**
 * The tenant, or a one-line error with its exit code: a bad id is 2, an unknown or deprovisioned
 * tenant 3, a tenant whose status does not allow the verb (say, exec on a stopped tenant) 5, with
 * what to do instead.
 */
export async function requireTenantFor(ctx: Context, rawId: unknown, verb: string, allowed: readonly TenantStatus[]): Promise<Day2Target> {
  const id = parseTenantId(rawId);
  const record = await new TenantRegistry(await ctx.adminDb()).require(id);
  if (record.status === 'deprovisioned') throw new TenantctlError('notFound', `tenant ${id} is deprovisioned; provision it again first`);
  if (!allowed.includes(record.status)) {
    if (record.status === 'suspended') throw suspendedRefusal(record, verb);
    throw new TenantctlError('conflict', `tenant ${id} is ${record.status}${record.statusReason ? ` (${record.statusReason})` : ''}, so it cannot ${verb}; ${hintFor(record)}`);
  }
  if (record.host !== ctx.dockerHost.id) throw wrongHost(id, record.host, ctx.dockerHost.id);
  const paths = tenantPaths(ctx.config.customersDir, id);
  // The .env is handed to compose as provision did, when there is one.
  const envFile = await access(paths.envFile).then(() => paths.envFile, () => undefined);
  return { record, verb, paths, target: { project: record.composeProject, file: paths.composeFile, envFile, profiles: record.profiles } };
}

/**
 * What every verb that would run a suspended tenant's stack (start, restart, upgrade, exec, restore,
 * rotate-secrets, move, ...) says instead (exit 5): the suspension's reason and the way out.
 */
export function suspendedRefusal(record: Pick<TenantRecord, 'id' | 'suspension'>, verb: string): TenantctlError {
  return new TenantctlError('conflict', `tenant ${record.id} is suspended: ${record.suspension?.reason ?? 'no reason recorded'}; it cannot ${verb} while suspended: run tenantctl resume ${record.id}`);
}

function hintFor(record: TenantRecord): string {
  switch (record.status) {
    case 'stopped': return `start it first: tenantctl start ${record.id}`;
    case 'active': return `it is already running (tenantctl status ${record.id})`;
    case 'failed': return `its stack was rolled back; provision it again: tenantctl provision ${record.id}`;
    default: return `another tenantctl is changing it; wait for it to finish (tenantctl status ${record.id})`;
  }
}

/** The rendered compose file compose needs; a clear error when customers/<id>/ is gone. */
export async function requireComposeFile(t: Day2Target): Promise<string> {
  try {
    return await readFile(t.paths.composeFile, 'utf8');
  } catch {
    throw new TenantctlError('conflict', `${t.paths.composeFile} is missing: compose cannot find the stack of ${t.record.id}; check customersDir (TENANTCTL_CUSTOMERS_DIR)`);
  }
}

/** The service names of the tenant's stack, from its rendered compose file: those of profiles that are off left out. */
export function servicesOf(rendered: string, profiles: readonly string[] = []): string[] {
  const services = (parse(rendered, { merge: true, maxAliasCount: -1 }) as { services?: Record<string, { profiles?: unknown }> }).services ?? {};
  return describeServices(rendered).map((s) => s.name).filter((name) => {
    const own = services[name]?.profiles;
    return !Array.isArray(own) || own.length === 0 || own.some((p) => profiles.includes(String(p)));
  });
}

/**
 * A template's secrets (`names`) for the tenant: from the files compose hands the containers
 * (customers/<id>/secrets/<NAME>), else customers/<id>/.env (tenants written before that layout),
 * else the sealed copy in the admin database (with the master key; never creating one).
 */
export async function tenantNamedSecretsFor(ctx: Context, db: AdminDb, t: Day2Target, names: readonly string[]): Promise<NamedSecrets> {
  const fromFiles = await readNamedSecretFiles(t.paths.secretsDir, names);
  if (fromFiles) return fromFiles;
  const fromEnv = await readNamedEnvFileSecrets(t.paths.envFile, names);
  if (fromEnv) return fromEnv;
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  return readNamedTenantSecrets(db, box, t.record.id, names);
}
