import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { TenantctlError, messageOf } from '../common/errors.js';
import { frontdoorLockWaitMs } from '../common/timeouts.js';
import type { AdminDb } from '../admin-db/database.js';
import type { Context } from '../context.js';
import type { Config } from '../config/schema.js';
import { appContainerAddresses, type AppContainerAddress } from './app-addresses.js';
import { servedRoutes } from './fleet-routes.js';
import { frontdoorLayout, generationDirName, readState, writeState, type FrontdoorLayout, type LastSync } from './layout.js';
import { renderFrontdoor, renderSnippet, routeKind, tenantHostnames, type RouteInput } from './render.js';
import { frontdoorContainers, frontdoorUp, mountsAcmeCerts, servedGeneration, signalReload, testGeneration, waitForGateway, waitForGeneration, writeComposeFile } from './stack.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';
import { holdSessionLock } from '../admin-db/session-lock.js';
import { configuredTemplate } from '../templates/configured.js';
import type { IssueOutcome } from './acme/issue.js';
import { ensureCombined } from './acme/certificates.js';
import { containerAcmeCertsDir } from './render-acme.js';

// One sync of the front door with the registry, serialised across tenantctl processes:
//   render every served tenant into a candidate generation directory (conf/gen-N/, complete with its
//   certificates and snippets) -> `nginx -t` it -> swap the `live` symlink (rename: atomic) ->
//   SIGHUP nginx -> wait until nginx serves generation N.
// A candidate that fails the test never becomes live. When nginx names a tenant's file, that
// tenant's last good folder (from the live generation) replaces it and the rest is tested again, so
// one tenant's bad input (its snippet, its certificate) cannot block every other tenant's changes;
// the result lists it as refused. A failure nginx cannot pin on a tenant refuses the whole candidate.
// A candidate identical to the live generation (same digest) is not reloaded at all.

/** The advisory lock space of front door reloads (admin-db's lockSpaces use 1 to 3). */
const frontdoorLockSpace = 11;
/** Generations kept on disk: the live one and the ones before it, to look at or go back to. */
const keptGenerations = 3;

export interface RouteSummary {
  tenant: string;
  status: string;
  /** route: proxied to the app; unavailable: a 503 page (stopped, failed, being provisioned); suspended: its page and 401s. */
  serving: 'route' | 'unavailable' | 'suspended';
  hostnames: string[];
  url: string;
}

export interface SyncResult {
  generation: number;
  /** A new generation was made live (false: the live one already said the same). */
  changed: boolean;
  routes: RouteSummary[];
  refused: { tenant: string; reason: string }[];
  durationMs: number;
  /** ACME front door: the certificates this sync issued (or failed to) before rendering. */
  certificates?: IssueOutcome[];
}

export function requireLocalEngine(ctx: Context): void {
  if (!ctx.dockerHost.isLocal) {
    throw new TenantctlError('usage', 'the front door needs a local Docker engine: its configuration is bind-mounted from the state dir; unset DOCKER_HOST or run tenantctl on the Docker host');
  }
}

export const httpsUrl = (config: Config, host: string) => `https://${host}${config.frontdoor.httpsPort === 443 ? '' : `:${config.frontdoor.httpsPort}`}`;

export async function readLiveGeneration(layout: FrontdoorLayout): Promise<number> {
  try {
    const target = await readlink(layout.liveLink);
    const match = /gen-(\d+)$/.exec(target);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** Holds the front door's reload lock (waiting for another process's reload to finish) until released. */
export async function lockReloads(db: AdminDb, project: string): Promise<() => Promise<void>> {
  return holdSessionLock(db, frontdoorLockSpace, project, {
    waitMs: frontdoorLockWaitMs,
    busy: () => new TenantctlError('conflict', `another tenantctl process has been reloading the front door for ${frontdoorLockWaitMs / 1000} s; try again`),
  });
}

type Entry = { content: string | Buffer; private?: boolean };

/** The whole candidate, in memory: rendered files plus the certificates and snippets it uses. */
async function assemble(ctx: Context, layout: FrontdoorLayout, db: AdminDb, generation: number, acme: boolean): Promise<{ files: Map<string, Entry>; digest: string; tenants: RouteInput[] }> {
  const config = ctx.config;
  const registry = await servedRoutes(ctx, db);
  // Container addresses only on this machine's engine: a remote host's bridge networks are not reachable from here.
  const routed = new Map(registry.flatMap((r) => (routeKind(r) === 'route' && r.appPort !== null && r.publishedAddress === undefined ? [[r.id, r.appPort] as const] : [])));
  // Without them nginx dials the published ports, which always works: a failed look-up only costs speed.
  const containers = await appContainerAddresses(ctx.dockerHost, routed, ctx.signal).catch((error: unknown) => {
    if (ctx.signal?.aborted) throw error;
    return new Map<string, AppContainerAddress>();
  });
  const files = new Map<string, Entry>();
  const tenants: RouteInput[] = [];
  // Each template's public API paths, loaded once per template. A template that cannot be loaded
  // (removed from the operator's directory) opens nothing: its tenants' whole API needs keys.
  const publicPathsByTemplate = new Map<string, Promise<string[]>>();
  const publicPathsOf = (name: string) => {
    let paths = publicPathsByTemplate.get(name);
    if (!paths) {
      paths = configuredTemplate(config, name).then((t) => t.block.frontdoor?.publicPaths ?? [], () => []);
      publicPathsByTemplate.set(name, paths);
    }
    return paths;
  };
  // ACME certificates are not copied into the generation: nginx reads each one's combined PEM from
  // the ACME folder (mounted read-only), where the agent renews it in place and reloads nginx
  // without rendering (render-acme.ts). Their content still counts in the digest, so a renewal by
  // `frontdoor renew` makes a new generation and a reload.
  const acmePems = new Map<string, Buffer>();
  const acmePem = async (name: string) => {
    if (!acme) return false;
    const pem = await ensureCombined(layout, name);
    if (pem) acmePems.set(name, pem);
    return pem !== undefined;
  };
  for (const route of registry) {
    const domains = [];
    const acmeNames: string[] = [];
    for (const domain of route.domains) {
      // The operator's certificate for the domain, else (on an ACME door) the one ACME issued.
      if (await exists(path.join(layout.domainsDir, `${domain}.crt`))) {
        files.set(`t/${route.id}/certs/${domain}.crt`, { content: await readFile(path.join(layout.domainsDir, `${domain}.crt`)) });
        files.set(`t/${route.id}/certs/${domain}.key`, { content: await readFile(path.join(layout.domainsDir, `${domain}.key`)), private: true });
        domains.push({ domain, ownCertificate: true });
      } else if (await acmePem(domain)) {
        acmeNames.push(domain);
        domains.push({ domain, ownCertificate: true });
      } else {
        domains.push({ domain, ownCertificate: false });
      }
    }
    // On an ACME door, <id>.<baseDomain> is served with its own certificate once it has one.
    const hostname = `${route.id}.${config.frontdoor.baseDomain}`;
    // With a DNS-01 wildcard (frontdoor.acme.dnsHook) the wildcard, as the base certificate, serves it instead.
    const hostCertificate = config.frontdoor.acme.dnsHook === undefined && (await acmePem(hostname));
    if (hostCertificate) acmeNames.push(hostname);
    const snippetFile = path.join(layout.snippetsDir, `${route.id}.conf`);
    const snippet = routeKind(route) === 'route' && (await exists(snippetFile));
    // Every location it opens gets the door's headers first (renderSnippet): no client-sent X-Api-Key-Id gets through one.
    if (snippet) files.set(`t/${route.id}/snippet.conf`, { content: renderSnippet(await readFile(snippetFile, 'utf8')) });
    const publicPaths = routeKind(route) === 'route' ? await publicPathsOf(route.template) : [];
    tenants.push({ ...route, domains, snippet, appContainer: containers.get(route.id), publicPaths, hostCertificate, acmeNames });
  }
  // The base certificate: on an ACME door with a DNS-01 wildcard, the wildcard once it is issued.
  const wildcard = path.join(layout.acmeCertsDir, `wildcard.${config.frontdoor.baseDomain}`);
  const baseFiles = acme && config.frontdoor.acme.dnsHook !== undefined && (await exists(`${wildcard}.crt`)) ? wildcard : path.join(layout.tlsDir, 'base');
  files.set('tls/base.crt', { content: await readFile(`${baseFiles}.crt`) });
  files.set('tls/base.key', { content: await readFile(`${baseFiles}.key`), private: true });
  // nginx shares the (local) Docker host's network namespace: it dials tenants where probes do.
  const upstreamAddress = ctx.dockerHost.probeAddress(config.bindAddress);
  // nginx runs on this machine (the front door needs the local engine).
  const hostCores = availableParallelism();
  // The digest ignores the generation number, so an unchanged registry is recognised as such.
  const hash = createHash('sha256');
  const digestFiles = new Map([
    ...files,
    ...[...renderFrontdoor({ config: config.frontdoor, upstreamAddress, generation: 0, tenants, hostCores, acme })].map(([k, v]) => [k, { content: v }] as const),
    ...[...acmePems].map(([name, pem]) => [`acme/${name}.pem`, { content: pem }] as const),
  ]);
  for (const [name, entry] of [...digestFiles].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}\0`).update(entry.content).update('\0');
  for (const [name, content] of renderFrontdoor({ config: config.frontdoor, upstreamAddress, generation, tenants, hostCores, acme })) files.set(name, { content });
  return { files, digest: hash.digest('hex'), tenants };
}

function summarise(config: Config, tenants: RouteInput[]): RouteSummary[] {
  return tenants.flatMap((t) => {
    const kind = routeKind(t);
    if (kind === 'none') return [];
    const hostnames = tenantHostnames(t, config.frontdoor.baseDomain);
    return [{ tenant: t.id, status: t.status, serving: kind, hostnames, url: httpsUrl(config, hostnames[0]!) }];
  });
}

/**
 * The tenant an nginx error is about, if any: the one whose folder it names (…/gen-N/t/<id>/…), or
 * the one serving the ACME certificate it names (<containerAcmeCertsDir>/<name>.pem, shared by every
 * generation: a bad one is that tenant's, not the whole door's).
 */
export function tenantOfError(lines: readonly string[], tenants: readonly { id: string; acmeNames?: readonly string[] }[] = []): string | undefined {
  for (const line of lines) {
    const match = /\/gen-\d+\/t\/([a-z][a-z0-9-]*)\//.exec(line);
    if (match) return match[1];
    const pem = line.indexOf(`${containerAcmeCertsDir}/`);
    if (pem >= 0) {
      const name = /^([^/\s"';:]+)\.pem/.exec(line.slice(pem + containerAcmeCertsDir.length + 1))?.[1];
      const owner = name === undefined ? undefined : tenants.find((t) => t.acmeNames?.includes(name));
      if (owner) return owner.id;
    }
  }
  return undefined;
}

/** nginx's message without its prefix, time stamp and pid, and with paths relative to the generation. */
export function nginxReason(line: string): string {
  return line
    .replace(/^nginx: /, '')
    .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '')
    .replace(/\[(emerg|alert|crit|error)\] \d+#\d+: /, '')
    .replace(/\/etc\/tenantctl\/gen-\d+\//g, '');
}

/**
 * Brings the front door in step with the registry (see the top of this file). Throws exit 11 when the
 * candidate is refused as a whole or nginx does not take it up; the live generation keeps serving.
 * On an ACME door, names without a certificate get one first (acme/ensure.ts), so the whole batch
 * costs one reload; when nginx is not running yet (its first start), it starts with the fallback
 * certificate, answers the CA's challenges, and a second sync serves the new certificates.
 */
export async function syncFrontdoor(ctx: Context): Promise<SyncResult> {
  const layout = frontdoorLayout(ctx.config);
  const state = await readState(layout);
  if (!state) throw new TenantctlError('usage', 'the front door is not set up here: run `tenantctl frontdoor init --self-signed` (or with --cert and --key, or --acme)');
  if (state.tls !== 'acme') return syncOnce(ctx, false);
  requireLocalEngine(ctx);
  let containers = await frontdoorContainers(ctx.dockerHost, ctx.config, ctx.signal);
  // A door set up by an older tenantctl does not mount the certificates folder into nginx, which
  // the configuration now reads ACME certificates from: its compose file is brought up to date and
  // nginx recreated (on the live configuration) before anything refers to that folder. Only then:
  // any other difference between the file and this caller's configuration (another images setting,
  // say) is `frontdoor init`'s to apply, not every sync's (which would recreate nginx and the gateway).
  await ensurePrivateDir(layout.acmeCertsDir);
  if (!mountsAcmeCerts(await readFile(layout.composeFile, 'utf8').catch(ignoreFailure('no compose file: it is written now'))) && (await writeComposeFile(ctx.config, layout, { acme: true })) && containers.length > 0) {
    await frontdoorUp(ctx.dockerHost, ctx.config, layout, ctx.signal);
    containers = await frontdoorContainers(ctx.dockerHost, ctx.config, ctx.signal);
  }
  const nginxRunning = containers.some((c) => c.service === 'nginx' && c.status === 'running');
  const first = nginxRunning ? undefined : await syncOnce(ctx, true);
  const certificates = await issueMissing(ctx);
  if (first && !certificates.some((c) => c.ok)) return { ...first, certificates };
  const result = await syncOnce(ctx, true);
  await revokeGone(ctx);
  return { ...result, certificates };
}

/** Deprovisioned tenants' certificates, once the door no longer serves them (acme/revoke.ts); a failure is a warning. */
async function revokeGone(ctx: Context): Promise<void> {
  const { revokeDeprovisioned } = await import('./acme/revoke.js');
  try {
    const revoked = await revokeDeprovisioned(ctx, await ctx.adminDb(), frontdoorLayout(ctx.config));
    for (const hostname of revoked) ctx.reporter.info(`front door: revoked the certificate of ${hostname} (its tenant is deprovisioned)`);
  } catch (error) {
    if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
    ctx.reporter.info(`warning: front door: a deprovisioned tenant's certificate was not revoked: ${messageOf(error)} (tenantctl frontdoor renew tries again)`);
  }
}

/** acme/ensure.ts, loaded only on an ACME door; its own failure (the CA unreachable) is a warning, not the sync's. */
async function issueMissing(ctx: Context): Promise<IssueOutcome[]> {
  const { ensureAcmeCertificates } = await import('./acme/ensure.js');
  try {
    return await ensureAcmeCertificates(ctx, await ctx.adminDb());
  } catch (error) {
    if (error instanceof TenantctlError && ['interrupted', 'adminDb', 'conflict'].includes(error.kind)) throw error;
    ctx.reporter.info(`warning: front door: no certificates issued: ${messageOf(error)}`);
    return [];
  }
}

async function syncOnce(ctx: Context, acme: boolean): Promise<SyncResult> {
  const started = Date.now();
  const config = ctx.config;
  const layout = frontdoorLayout(config);
  requireLocalEngine(ctx);
  const db = await ctx.adminDb();
  const release = await lockReloads(db, config.frontdoor.project);
  let lastSync: LastSync | undefined;
  try {
    const live = await readLiveGeneration(layout);
    const containers = await frontdoorContainers(ctx.dockerHost, config, ctx.signal);
    const nginxRunning = containers.some((c) => c.service === 'nginx' && c.status === 'running');
    const allRunning = nginxRunning && containers.some((c) => c.service === 'gateway' && c.status === 'running');
    const probe = await assemble(ctx, layout, db, 0, acme);
    const liveDigest = live > 0 ? await readFile(path.join(layout.confDir, generationDirName(live), 'digest'), 'utf8').catch(failureMeans('', 'no digest for the live generation: it is rebuilt')) : '';
    if (liveDigest === probe.digest && allRunning && (await servedGeneration(config, ctx.signal)) === live) {
      lastSync = { at: new Date().toISOString(), ok: true, generation: live };
      return { generation: live, changed: false, routes: summarise(config, probe.tenants), refused: [], durationMs: Date.now() - started };
    }

    // A new generation: above every directory on disk (a refused candidate's may linger after a crash).
    const numbers = (await readdir(layout.confDir).catch(failureMeans([] as string[], 'no conf directory yet: the new generation is live + 1'))).map((n) => /^gen-(\d+)$/.exec(n)).filter(Boolean).map((m) => Number(m![1]));
    const generation = Math.max(live, ...numbers) + 1;
    const { files, digest, tenants } = await assemble(ctx, layout, db, generation, acme);
    const dirName = generationDirName(generation);
    const dir = path.join(layout.confDir, dirName);
    await rm(dir, { recursive: true, force: true });
    for (const [name, entry] of files) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), entry.content, { mode: entry.private ? 0o600 : 0o644 });
    }

    ctx.reporter.detail(`front door: testing generation ${generation}`);
    let outcome = await testGeneration(ctx.dockerHost, config, layout, dirName, nginxRunning, ctx.signal);
    const refused: { tenant: string; reason: string }[] = [];
    const notServed = new Set<string>();
    while (!outcome.ok) {
      const tenant = tenantOfError(outcome.errors, tenants);
      if (!tenant || notServed.has(tenant)) break;
      // Named again with its last good folder (which reads the same ACME certificate, say): not served in this one.
      const again = refused.some((r) => r.tenant === tenant);
      if (!again) refused.push({ tenant, reason: nginxReason(outcome.errors[0]!) });
      // The tenant's last good folder, if it has one in the live generation; else it is not served.
      await rm(path.join(dir, 't', tenant), { recursive: true, force: true });
      const good = path.join(layout.confDir, generationDirName(live), 't', tenant);
      if (!again && live > 0 && (await exists(good))) await cp(good, path.join(dir, 't', tenant), { recursive: true });
      else notServed.add(tenant);
      outcome = await testGeneration(ctx.dockerHost, config, layout, dirName, nginxRunning, ctx.signal);
    }
    if (!outcome.ok) {
      await rm(dir, { recursive: true, force: true });
      throw new TenantctlError('frontdoor', `nginx -t refused the new front door configuration: ${outcome.errors.map(nginxReason).join('; ')}; ${live > 0 ? `generation ${live} keeps serving` : 'nothing was made live'}`);
    }
    // A partly refused candidate is tested again next time (its digest matches nothing).
    await writeFile(path.join(dir, 'digest'), refused.length > 0 ? `refused:${generation}` : digest);

    // Swap: a new symlink renamed over `live` is atomic; nginx reads it at the reload.
    const temp = path.join(layout.confDir, `live.${process.pid}.tmp`);
    await rm(temp, { force: true });
    await symlink(dirName, temp);
    await rename(temp, layout.liveLink);
    try {
      // The new configuration is written and live on disk, not yet loaded (a journaled verb's
      // 'door config written'): a run killed here leaves a live link nginx does not serve, which the
      // next sync reloads (its served generation differs).
      await ctx.pause('frontdoor:written');
      if (nginxRunning) await signalReload(ctx.dockerHost, config, ctx.signal);
      if (!allRunning) await frontdoorUp(ctx.dockerHost, config, layout, ctx.signal);
      await waitForGeneration(ctx.dockerHost, config, generation, ctx.signal);
      if (!allRunning) await waitForGateway(config, ctx.signal);
    } catch (error) {
      // nginx kept (or never left) the old configuration: say so on disk too.
      if (live > 0) {
        await symlink(generationDirName(live), temp).catch(ignoreFailure("the sync's own error is thrown below; a link that cannot be put back is redone by the next sync"));
        await rename(temp, layout.liveLink).catch(ignoreFailure("the sync's own error is thrown below; a link that cannot be put back is redone by the next sync"));
      }
      throw error;
    }
    lastSync = { at: new Date().toISOString(), ok: true, generation, ...(refused.length > 0 ? { refused } : {}) };
    // nginx serves the new generation ('door reloaded').
    await ctx.pause('frontdoor:reloaded');
    // Old generations go, newest kept.
    for (const old of numbers.filter((n) => n < generation).sort((a, b) => b - a).slice(keptGenerations - 1)) {
      await rm(path.join(layout.confDir, generationDirName(old)), { recursive: true, force: true });
    }
    lastSync = { at: new Date().toISOString(), ok: true, generation, ...(refused.length > 0 ? { refused } : {}) };
    return { generation, changed: true, routes: summarise(config, tenants), refused, durationMs: Date.now() - started };
  } catch (error) {
    lastSync = { at: new Date().toISOString(), ok: false, generation: await readLiveGeneration(layout), error: messageOf(error) };
    throw error;
  } finally {
    if (lastSync) {
      const state = await readState(layout).catch(ignoreFailure('no state to record the sync in: frontdoor status shows none'));
      if (state) await writeState(layout, { ...state, lastSync }).catch(ignoreFailure("the sync's result (or error) is the answer; its record on disk is for frontdoor status only"));
    }
    await release();
  }
}
