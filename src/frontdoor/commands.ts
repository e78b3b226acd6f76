import path from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { TenantctlError, messageOf } from '../common/errors.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { Context } from '../context.js';
import { parseTenantId } from '../tenants/input.js';
import { addDomain, domainOwner, listDomains, parseDomain, removeDomain, type DomainRecord } from './domains.js';
import { servedRoutes } from './fleet-routes.js';
import { gatewayDatabaseUrl, gatewayRole } from './gateway-role.js';
import { frontdoorLayout, readState, writeState, type FrontdoorState, type LastSync } from './layout.js';
import { routeKind, tenantHostnames } from './render.js';
import { frontdoorContainers, frontdoorDown, frontdoorUp, gatewayContainer, nginxContainer, nginxEntrypoint, servedGeneration, waitForGateway, writeComposeFile, writeGatewayConfig } from './stack.js';
import { describeCertificate, ensureLocalCa, hasLocalCa, installPair, issueFromLocalCa, localCaConstrainedTo, readOperatorPair, removePair, type CertificateInfo } from './tls.js';
import { httpsUrl, readLiveGeneration, requireLocalEngine, syncFrontdoor, type RouteSummary, type SyncResult } from './sync.js';
import type { IssueOutcome } from './acme/issue.js';
import type { AcmeCertificateStatus } from './acme/status.js';

// `tenantctl frontdoor init|status|reload|down` and `tenantctl domains add|remove|list`.

export interface FrontdoorInitResult {
  project: string;
  baseDomain: string;
  listen: { http: string; https: string };
  tls: { mode: FrontdoorState['tls']; caFile?: string; certificate: CertificateInfo };
  /** frontdoor init --acme: the ACME server and this door's account there; the certificates the first sync issued. */
  acme?: { directory: string; account: string; certificates: IssueOutcome[] };
  generation: number;
  routes: RouteSummary[];
  durationMs: number;
}

async function requireImage(ctx: Context, image: string, command?: string): Promise<void> {
  try {
    const inspected = await ctx.dockerHost.docker(['image', 'inspect', '--format', '{{json .Config.Cmd}}', image], { signal: ctx.signal });
    // An image built by an older scripts/build-images.sh runs plain nginx, without the usage log's rotator.
    if (command !== undefined && (JSON.parse(inspected.trim() || 'null') as string[] | null)?.[0] !== command) {
      throw new TenantctlError('docker', `image ${image} does not run ${command} (built by an older tenantctl?): rebuild it with scripts/build-images.sh`);
    }
  } catch (error) {
    if (error instanceof TenantctlError && /No such image/i.test(error.message)) {
      throw new TenantctlError('docker', `image ${image} is missing: build it with scripts/build-images.sh`);
    }
    throw error;
  }
}

export async function frontdoorInit(ctx: Context, input: { selfSigned?: boolean; cert?: string; key?: string; acme?: boolean }): Promise<FrontdoorInitResult> {
  const started = Date.now();
  const { config } = ctx;
  const fd = config.frontdoor;
  requireLocalEngine(ctx);
  if ([input.selfSigned, input.cert || input.key, input.acme].filter(Boolean).length > 1) throw new TenantctlError('usage', 'give one of --self-signed, --cert and --key, or --acme');
  if (Boolean(input.cert) !== Boolean(input.key)) throw new TenantctlError('usage', '--cert and --key go together');
  const layout = frontdoorLayout(config);
  const previous = await readState(layout);
  const mode: FrontdoorState['tls'] | undefined = input.selfSigned ? 'self-signed' : input.cert ? 'operator' : input.acme ? 'acme' : previous?.tls;
  if (!mode) throw new TenantctlError('usage', 'the front door needs a certificate: --self-signed (a local CA and a wildcard certificate, for development), --cert <file> --key <file> (a wildcard for *.' + fd.baseDomain + ') or --acme (a certificate per host name from ' + fd.acme.directory + ')');

  await requireImage(ctx, fd.images.nginx, nginxEntrypoint);
  await requireImage(ctx, fd.images.gateway);
  for (const dir of [layout.root, layout.confDir, layout.tlsDir, layout.domainsDir, layout.snippetsDir]) await ensurePrivateDir(dir);

  const baseNames = [`*.${fd.baseDomain}`, fd.baseDomain];
  if (mode === 'operator' && input.cert && input.key) {
    await installPair(layout.tlsDir, 'base', await readOperatorPair(input.cert, input.key, [`tenantctl-check.${fd.baseDomain}`]));
  } else if (mode === 'self-signed' || mode === 'acme') {
    // On an ACME door the local CA's wildcard only answers names that have no certificate of their own (yet).
    const { created } = await ensureLocalCa(ctx.dockerHost, fd.images.nginx, layout, fd.baseDomain, ctx.signal);
    if (created) ctx.reporter.info(`created a local CA: ${path.join(layout.tlsDir, 'ca.crt')} (trust it, or pass it to curl --cacert)`);
    const current = await describeCertificate(path.join(layout.tlsDir, 'base.crt')).catch(ignoreFailure('no base certificate yet, or not one: a new one is issued below'));
    const fits = current && !created && current.daysLeft > 30 && baseNames.every((n) => current.names.includes(n)) && /tenantctl local development CA/.test(current.issuer);
    if (!fits) await issueFromLocalCa(ctx.dockerHost, fd.images.nginx, layout, layout.tlsDir, 'base', baseNames, fd.baseDomain, ctx.signal);
  } else {
    await describeCertificate(path.join(layout.tlsDir, 'base.crt')).catch(() => {
      throw new TenantctlError('usage', `no certificate in ${layout.tlsDir}: give --cert and --key, or --self-signed`);
    });
  }

  // The gateway's own least-privilege login (gateway-role.ts), never the admin database's owner.
  await writeGatewayConfig(config, layout, await gatewayDatabaseUrl(await ctx.adminDb(), config.stateDir));
  let acme: { directory: string; account: string } | undefined;
  if (mode === 'acme') {
    // The account first: a wrong directory URL, an untrusted CA or a refusal stop init here (exit 12).
    const { ensureChallengeDir } = await import('./acme/challenges.js');
    const { openAccount } = await import('./acme/client.js');
    await ensureChallengeDir(layout);
    // Made here, as the operator, before compose mounts it into nginx (Docker would make it as root).
    await ensurePrivateDir(layout.acmeCertsDir);
    const account = await openAccount(fd.acme, layout);
    acme = { directory: fd.acme.directory, account: account.client.getAccountUrl() };
  }
  await writeComposeFile(config, layout, { acme: mode === 'acme' });
  await writeState(layout, { version: 1, project: fd.project, initializedAt: previous?.initializedAt ?? new Date().toISOString(), tls: mode, lastSync: previous?.lastSync });
  let sync: SyncResult;
  try {
    ctx.reporter.step(`starting the front door (compose project ${fd.project})`);
    // Containers made from an older definition or image (an older tenantctl: say, nginx without
    // the usage log's rotator) are recreated; compose leaves the ones that are up to date. Always,
    // not only when the compose file changed: an init interrupted after writing it must still
    // bring the containers up to date the next time.
    if (previous) await frontdoorUp(ctx.dockerHost, config, layout, ctx.signal);
    sync = await syncFrontdoor(ctx);
    await waitForGateway(config, ctx.signal);
    ctx.reporter.end();
  } catch (error) {
    // A front door that never ran is not "set up": the tenant hooks stay off until init succeeds.
    if (!previous) await rm(layout.stateFile, { force: true });
    throw error;
  }
  return {
    project: fd.project,
    baseDomain: fd.baseDomain,
    listen: { http: `${fd.listenAddress}:${fd.httpPort}`, https: `${fd.listenAddress}:${fd.httpsPort}` },
    tls: { mode, ...(mode === 'self-signed' ? { caFile: path.join(layout.tlsDir, 'ca.crt') } : {}), certificate: await describeCertificate(path.join(layout.tlsDir, 'base.crt')) },
    ...(acme ? { acme: { ...acme, certificates: sync.certificates ?? [] } } : {}),
    generation: sync.generation,
    routes: sync.routes,
    durationMs: Date.now() - started,
  };
}

export interface FrontdoorStatus {
  initialized: boolean;
  project: string;
  baseDomain: string;
  listen?: { http: string; https: string };
  containers: { service: string; name: string; status: string }[];
  generation: { live: number; served: number | null };
  lastSync?: LastSync;
  certificates: (CertificateInfo & { role: string })[];
  /** ACME door: each certificate on record (admin_certificates), with its days left and last error. */
  acme?: { directory: string; certificates: AcmeCertificateStatus[] };
  routes: RouteSummary[];
  /** Both containers run, nginx serves the live generation and the last sync succeeded. */
  healthy: boolean;
  problems: string[];
}

export async function frontdoorStatus(ctx: Context): Promise<FrontdoorStatus> {
  const { config } = ctx;
  const fd = config.frontdoor;
  const layout = frontdoorLayout(config);
  const state = await readState(layout);
  const base = { project: fd.project, baseDomain: fd.baseDomain };
  if (!state) {
    return { initialized: false, ...base, containers: [], generation: { live: 0, served: null }, certificates: [], routes: [], healthy: false, problems: ['not set up: run tenantctl frontdoor init'] };
  }
  const containers = (await frontdoorContainers(ctx.dockerHost, config, ctx.signal)).map((c) => ({ service: c.service, name: c.name, status: c.status }));
  const live = await readLiveGeneration(layout);
  const served = (await servedGeneration(config, ctx.signal)) ?? null;
  const certificates: FrontdoorStatus['certificates'] = [];
  const add = async (role: string, file: string) => {
    const info = await describeCertificate(file).catch(ignoreFailure('a file that is not there or not a certificate is not listed'));
    if (info) certificates.push({ role, ...info });
  };
  await add('base', path.join(layout.tlsDir, 'base.crt'));
  if (await hasLocalCa(layout)) await add('local CA', path.join(layout.tlsDir, 'ca.crt'));
  const db = await ctx.adminDb();
  const routes = (await servedRoutes(ctx, db)).flatMap((r): RouteSummary[] => {
    const kind = routeKind(r);
    if (kind === 'none') return [];
    const hostnames = tenantHostnames({ id: r.id, domains: r.domains.map((domain) => ({ domain, ownCertificate: false })) }, fd.baseDomain);
    return [{ tenant: r.id, status: r.status, serving: kind, hostnames, url: httpsUrl(config, hostnames[0]!) }];
  });
  for (const route of routes) for (const domain of route.hostnames.slice(1)) await add(`domain ${domain}`, path.join(layout.domainsDir, `${domain}.crt`));

  const problems: string[] = [];
  for (const service of ['nginx', 'gateway']) {
    const c = containers.find((x) => x.service === service);
    if (!c || c.status !== 'running') problems.push(`${service} is ${c?.status ?? 'missing'} (docker logs ${service === 'nginx' ? nginxContainer(config) : gatewayContainer(config)}; tenantctl frontdoor reload starts it)`);
  }
  if (served !== live) problems.push(served === null ? 'nginx does not answer on its status server' : `nginx serves generation ${served}, the live one is ${live}`);
  if (state.lastSync && !state.lastSync.ok) problems.push(`the last sync failed: ${state.lastSync.error}`);
  for (const r of state.lastSync?.refused ?? []) problems.push(`${r.tenant}: its new configuration was refused (${r.reason}); its last good one is served`);
  // Set up by an older tenantctl: the gateway on the owner's login, a CA that signs any name.
  const gatewayUser = await readFile(layout.gatewayConfig, 'utf8').then((text) => new URL(JSON.parse(text).databaseUrl).username, () => undefined);
  if (gatewayUser !== undefined && gatewayUser !== gatewayRole) problems.push(`the gateway connects to the admin database as ${gatewayUser}, not its own least-privileged role ${gatewayRole}: run tenantctl frontdoor init`);
  if (await hasLocalCa(layout) && !(await localCaConstrainedTo(layout, fd.baseDomain))) problems.push(`the local CA is not constrained to ${fd.baseDomain} (it can sign other names): run tenantctl frontdoor init, which replaces it, and trust the new ca.crt instead`);
  let acme: FrontdoorStatus['acme'];
  if (state.tls === 'acme') {
    const { acmeCertificateStatus } = await import('./acme/status.js');
    acme = { directory: fd.acme.directory, certificates: await acmeCertificateStatus(db, layout) };
    for (const c of acme.certificates) if (c.lastError) problems.push(`certificate of ${c.hostname}: ${c.lastError}${c.nextAttemptAt ? ` (next attempt ${c.nextAttemptAt})` : ''}`);
  }
  // An ACME door's local CA wildcard only answers unknown names: its expiry is not a tenant's.
  for (const c of certificates) if (c.daysLeft < 30 && state.tls !== 'acme') problems.push(`certificate ${c.role} ${c.daysLeft < 0 ? 'expired' : `expires in ${c.daysLeft} days`} (${c.notAfter})`);
  return {
    initialized: true,
    ...base,
    listen: { http: `${fd.listenAddress}:${fd.httpPort}`, https: `${fd.listenAddress}:${fd.httpsPort}` },
    containers,
    generation: { live, served },
    lastSync: state.lastSync,
    certificates,
    ...(acme ? { acme } : {}),
    routes,
    healthy: problems.length === 0,
    problems,
  };
}

/** `frontdoor reload`: sync now; refused tenants make it exit 11 (after the rest went live). */
export async function frontdoorReload(ctx: Context): Promise<SyncResult> {
  const result = await syncFrontdoor(ctx);
  if (result.refused.length > 0) {
    throw new TenantctlError('frontdoor', `nginx -t refused ${result.refused.map((r) => `${r.tenant}'s configuration (${r.reason})`).join('; ')}; ${result.refused.length === 1 ? 'its' : 'their'} last good configuration keeps serving, the rest is live as generation ${result.generation}`);
  }
  return result;
}

export async function frontdoorDownCommand(ctx: Context): Promise<{ project: string; stopped: boolean }> {
  requireLocalEngine(ctx);
  const layout = frontdoorLayout(ctx.config);
  const state = await readState(layout);
  if (state) await frontdoorDown(ctx.dockerHost, ctx.config, layout);
  await rm(layout.stateFile, { force: true });
  return { project: ctx.config.frontdoor.project, stopped: state !== undefined };
}

// domains

export interface DomainChange {
  customerId: string;
  domain: string;
  changed: boolean;
  url: string;
  certificate: 'own' | 'acme' | 'base (does not cover it)';
  /** domains remove on an ACME door: the domain's certificate was revoked at the CA (or why not). */
  revoked?: boolean;
  revocationError?: string;
  frontdoor: { generation: number } | 'not set up' | 'not updated';
  /** domains add on an ACME door: the domain is recorded (and its operation completed) but the door did not take it up. */
  frontdoorWarning?: string;
}

async function syncForDomains(ctx: Context, id: string): Promise<DomainChange['frontdoor']> {
  if (!(await readState(frontdoorLayout(ctx.config)))) return 'not set up';
  const result = await syncFrontdoor(ctx);
  const refused = result.refused.find((r) => r.tenant === id);
  if (refused) throw new TenantctlError('frontdoor', `the domain is recorded, but nginx -t refused ${id}'s new configuration (${refused.reason}); its last good configuration keeps serving; fix it and run tenantctl frontdoor reload`);
  return { generation: result.generation };
}

export async function domainsAdd(ctx: Context, input: { id: unknown; domain: unknown; cert?: string; key?: string }): Promise<DomainChange> {
  const id = parseTenantId(input.id);
  const domain = parseDomain(input.domain, ctx.config.frontdoor.baseDomain);
  if (Boolean(input.cert) !== Boolean(input.key)) throw new TenantctlError('usage', '--cert and --key go together');
  const layout = frontdoorLayout(ctx.config);
  // The certificate is checked before anything is recorded. A custom domain is the customer's name:
  // it brings its own certificate (or keeps the one installed for it); the local development CA
  // never signs it (it is constrained to the base domain, tls.ts).
  const pair = input.cert && input.key ? await readOperatorPair(input.cert, input.key, [domain]) : undefined;
  if (!pair && !(await describeCertificate(path.join(layout.domainsDir, `${domain}.crt`)).then(() => true, () => false))) {
    if ((await readState(layout))?.tls === 'acme') return domainsAddByAcme(ctx, id, domain);
    throw new TenantctlError('usage', `domain ${domain} needs its own certificate: give --cert <file> --key <file> (the local development CA signs only names under ${ctx.config.frontdoor.baseDomain}), or set the front door up with --acme`);
  }
  const db = await ctx.adminDb();
  // The certificate goes in before the row: a run killed in between leaves files nothing serves
  // (the door serves recorded domains only), never a recorded domain without its certificate.
  // Another tenant's domain is refused first: its certificate is not ours to replace.
  const owner = await domainOwner(db, domain);
  if (owner !== undefined && owner !== id) throw new TenantctlError('conflict', `domain ${domain} belongs to tenant ${owner}; remove it there first (tenantctl domains remove ${owner} ${domain})`);
  if (pair) await installPair(layout.domainsDir, domain, pair);
  let changed: boolean;
  try {
    ({ changed } = await addDomain(db, id, domain));
  } catch (error) {
    if (pair && owner === undefined) await removePair(layout.domainsDir, domain);
    throw error;
  }
  return { customerId: id, domain, changed, url: httpsUrl(ctx.config, domain), certificate: 'own', frontdoor: await syncForDomains(ctx, id) };
}

/**
 * An ACME door, no --cert: the domain must reach this door and get its certificate before it is
 * recorded (acme/domains.ts); any failure is exit 12 with nothing recorded and nothing served.
 * A journaled verb (acme/domains-add.ts).
 */
async function domainsAddByAcme(ctx: Context, id: string, domain: string): Promise<DomainChange> {
  const db = await ctx.adminDb();
  // Refusals that need no CA first (no such tenant, another tenant's domain), as addDomain would.
  const owner = await domainOwner(db, domain);
  if (owner !== undefined && owner !== id) throw new TenantctlError('conflict', `domain ${domain} belongs to tenant ${owner}; remove it there first (tenantctl domains remove ${owner} ${domain})`);
  const tenant = await db.pool.query('SELECT status FROM admin_customers WHERE id = $1', [id]).catch(db.unreachable);
  if (!tenant.rows[0] || tenant.rows[0].status === 'deprovisioned') throw new TenantctlError('notFound', `no tenant ${id} (or it is deprovisioned)`);
  // Journaled (acme/domains-add.ts): intent first, each step recorded, the door synced under the
  // tenant's lock; a killed run is resumed or undone by the next command on the tenant.
  const { journaledDomainsAdd } = await import('./acme/domains-add.js');
  const { changed, generation, warning } = await journaledDomainsAdd(ctx, id, domain);
  return { customerId: id, domain, changed, url: httpsUrl(ctx.config, domain), certificate: 'acme', frontdoor: generation === null ? 'not updated' : { generation }, ...(warning ? { frontdoorWarning: warning } : {}) };
}

export async function domainsRemove(ctx: Context, input: { id: unknown; domain: unknown }): Promise<DomainChange> {
  const id = parseTenantId(input.id);
  const domain = parseOrUsageDomain(input.domain);
  const db = await ctx.adminDb();
  const layout = frontdoorLayout(ctx.config);
  const { changed } = await removeDomain(db, id, domain);
  if (changed) await removePair(layout.domainsDir, domain);
  // Stop serving it first, then revoke: the door never serves a revoked certificate.
  const frontdoor = await syncForDomains(ctx, id);
  const result: DomainChange = { customerId: id, domain, changed, url: httpsUrl(ctx.config, domain), certificate: 'base (does not cover it)', frontdoor };
  if (changed && (await readState(layout))?.tls === 'acme') {
    const { revokeAndForget } = await import('./acme/revoke.js');
    // A failed revocation stays on record; `frontdoor renew` tries again (acme/revoke.ts).
    await revokeAndForget(ctx, db, layout, domain).then(
      (revoked) => { result.revoked = revoked; },
      (error) => { result.revoked = false; result.revocationError = messageOf(error); ctx.reporter.info(`warning: the certificate of ${domain} was not revoked: ${messageOf(error)} (tenantctl frontdoor renew tries again)`); },
    );
  }
  return result;
}

/** `frontdoor renew` (acme/renew.ts), on the host: the same code the agent's certificate-renewal schedule runs in place, and the only renewal of the DNS-01 wildcard (README). */
export async function frontdoorRenew(ctx: Context, input: { force?: boolean }) {
  requireLocalEngine(ctx);
  const { renewCertificates } = await import('./acme/renew.js');
  return renewCertificates(ctx, input);
}

/** Removing takes any syntactically valid name (even one under the base domain: nothing can have it). */
function parseOrUsageDomain(value: unknown): string {
  try {
    return parseDomain(value, '\0');
  } catch (error) {
    throw new TenantctlError('usage', messageOf(error));
  }
}

export interface DomainsListResult {
  customerId: string | null;
  domains: (DomainRecord & { url: string })[];
}

export async function domainsList(ctx: Context, input: { id?: unknown }): Promise<DomainsListResult> {
  const id = input.id === undefined ? undefined : parseTenantId(input.id);
  const db = await ctx.adminDb();
  if (id) {
    const { rows } = await db.pool.query('SELECT 1 FROM admin_customers WHERE id = $1', [id]).catch(db.unreachable);
    if (rows.length === 0) throw new TenantctlError('notFound', `no tenant ${id}`);
  }
  const domains = await listDomains(db, id);
  return { customerId: id ?? null, domains: domains.map((d) => ({ ...d, url: httpsUrl(ctx.config, d.domain) })) };
}
