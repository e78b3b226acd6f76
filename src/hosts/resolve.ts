import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { OperationJournal } from '../operations/journal.js';
import { HostStore, type HostRecord } from './store.js';
import { probeHost, type HostProbe } from './probe.js';

// The one place that maps a tenant, or a host's name, to the DockerHost its commands go to. The
// environment's host (DOCKER_HOST, TENANTCTL_HOST_ID) is ctx.dockerHost; a registered host is
// built by the context once per command; an implicit host that is not this environment's is left
// alone, so the command refuses as it always did (point DOCKER_HOST and TENANTCTL_HOST_ID at it).

/** The DockerHost for a host name, or undefined when only another environment can reach it. */
export async function dockerHostNamed(ctx: Context, db: AdminDb, name: string): Promise<DockerHost | undefined> {
  if (name === ctx.dockerHost.id) return ctx.dockerHost;
  // A command routed to a tenant's host elsewhere (a settlement, a move's undo) still reaches this environment's own.
  if (name === ctx.homeHost.id) return ctx.homeHost;
  const record = await new HostStore(db).get(name);
  return record ? dockerHostFor(ctx, record) : undefined;
}

/** The DockerHosts of the named hosts this environment can reach (implicit hosts of others are absent). */
export async function hostsNamed(ctx: Context, names: readonly string[]): Promise<Map<string, DockerHost>> {
  const db = await ctx.adminDb();
  const found = await Promise.all(names.map(async (name) => [name, await dockerHostNamed(ctx, db, name)] as const));
  return new Map(found.filter((entry): entry is readonly [string, DockerHost] => entry[1] !== undefined));
}

/** A registered host's DockerHost (through the context's per-command cache); undefined for an implicit host elsewhere. */
export async function dockerHostFor(ctx: Context, record: HostRecord): Promise<DockerHost | undefined> {
  if (record.name === ctx.dockerHost.id) return ctx.dockerHost;
  if (record.name === ctx.homeHost.id) return ctx.homeHost;
  if (!record.endpoint) return undefined;
  const tlsCertPath = record.tls ? await tlsCertDir(ctx.config.stateDir, record.name, record.tls) : undefined;
  return ctx.hostFor({ name: record.name, endpoint: record.endpoint, tlsCertPath, kind: record.kind, publishAddress: record.publishAddress ?? undefined });
}

/** The same context, its docker and compose calls going to `host`; the admin database stays where it is. */
export function contextOn(ctx: Context, host: DockerHost): Context {
  return host === ctx.dockerHost ? ctx : { ...ctx, dockerHost: host };
}

/** Exit 6 naming the host when it does not answer; `whose` says whose host it is ("tenant acme"). Its probe when it answers. */
export async function requireReachable(ctx: Context, host: DockerHost, whose?: string): Promise<Extract<HostProbe, { reachable: true }>> {
  const probe = await probeHost(host, ctx.signal);
  if (!probe.reachable) {
    const named = `Docker host ${host.id}${host.endpoint.kind === 'local' ? '' : ` (${host.endpoint.url})`}`;
    throw new TenantctlError('docker', `${whose ? `${whose} is on ${named}, which does not answer` : `${named} does not answer`}: ${probe.error}; nothing was changed`);
  }
  return probe;
}

/**
 * Runs `work` with a context on the Docker host the tenants are recorded on. Unknown, invalid and
 * deprovisioned ids route nowhere (the command reports them as it always did). Tenants on
 * several hosts: exit 2, one command per host. A host that does not answer: exit 6 before
 * anything is changed.
 */
export async function onTenantsHost<T>(ctx: Context, rawIds: readonly unknown[], work: (ctx: Context) => Promise<T>, { readOnly = false }: { readOnly?: boolean } = {}): Promise<T> {
  const ids = rawIds.flatMap((raw) => {
    try {
      return [parseTenantId(raw)];
    } catch {
      return [];
    }
  });
  if (ids.length === 0) return work(ctx);
  const db = await ctx.adminDb();
  // A command that changes a tenant settles what a killed run left first, before it is routed: a
  // move undone or finished changes which host the tenant is on. A read-only one reports it as it is.
  if (!readOnly) await settleBeforeRouting(ctx, db, ids);
  const registry = new TenantRegistry(db);
  const hosts = new Map<string, string[]>();
  for (const id of ids) {
    const record = await registry.get(id);
    if (!record || (record.status === 'deprovisioned' && !record.keptData)) continue;
    hosts.set(record.host, [...(hosts.get(record.host) ?? []), id]);
  }
  if (hosts.size === 0) return work(ctx);
  if (hosts.size > 1) {
    throw usageError(`these tenants are on different Docker hosts (${[...hosts].map(([h, t]) => `${h}: ${t.join(', ')}`).join('; ')}); run the command once per host`);
  }
  const [[name, onHost]] = [...hosts] as [[string, string[]]];
  const host = await dockerHostNamed(ctx, db, name);
  if (!host || host === ctx.dockerHost) return work(ctx);
  await requireReachable(ctx, host, onHost.length === 1 ? `tenant ${onHost[0]}` : `tenants ${onHost.join(', ')}`);
  return work(contextOn(ctx, host));
}

/** Settles each tenant's unfinished operation, if any (holdTenant takes the lock, settles, and it is let go at once). */
export async function settleBeforeRouting(ctx: Context, db: AdminDb, ids: readonly string[]): Promise<void> {
  const journal = new OperationJournal(db);
  for (const id of ids) {
    if (!(await journal.pending(id))) continue;
    const release = await holdTenant(ctx, id);
    await release();
  }
}

/** Runs `work` on the named host of the fleet (`--host` of doctor, backup --all, upgrade --all, ...). */
export async function onNamedHost<T>(ctx: Context, name: string | undefined, work: (ctx: Context) => Promise<T>): Promise<T> {
  if (name === undefined || name === ctx.dockerHost.id) return work(ctx);
  const db = await ctx.adminDb();
  const record = await new HostStore(db).require(name);
  const host = await dockerHostFor(ctx, record);
  if (!host) throw new TenantctlError('conflict', `Docker host ${name} is known only by name (no endpoint registered); point DOCKER_HOST and TENANTCTL_HOST_ID at it, or register it with tenantctl hosts add`);
  await requireReachable(ctx, host);
  return work(contextOn(ctx, host));
}

/**
 * DOCKER_CERT_PATH wants one directory with ca.pem, cert.pem and key.pem; the registered files may
 * live anywhere, so a directory of links to them is kept under the state dir (per operator machine).
 */
async function tlsCertDir(stateDir: string, name: string, tls: NonNullable<HostRecord['tls']>): Promise<string> {
  const dir = path.join(stateDir, 'hosts', name, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const [file, target] of [['ca.pem', tls.ca], ['cert.pem', tls.cert], ['key.pem', tls.key]] as const) {
    // Made under a name of its own, then renamed over the link (atomic): concurrent placements in
    // one batch, or two tenantctl processes, never see the link missing or collide making it.
    const link = path.join(dir, file);
    const fresh = `${link}.${randomUUID()}`;
    await symlink(path.resolve(target), fresh);
    await rename(fresh, link).catch(async (error: unknown) => {
      await rm(fresh, { force: true });
      throw error;
    });
  }
  return dir;
}
