import { mkdir } from 'node:fs/promises';
import { forgetKeptSwarmData, requireKeptSwarmData } from './kept-swarm-data.js';
import * as z from 'zod/mini';
import { TenantctlError, messageOf } from '../common/errors.js';
import { appUrlFor, type Context } from '../context.js';
import { parseOrUsage, parseTenantId, planSchema, portOverrideSchema, tenantNameSchema, type Plan } from './input.js';
import { projectName, portsReportedTaken, subnetReportedTaken } from '../stack/compose-argv.js';
import { composeUpGraceMs } from '../common/timeouts.js';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';
import { ComposeError, composeOn } from '../stack/compose.js';
import { missingImages, networkSubnets, objectsByLabel, type LabelledObjects } from '../engine/docker.js';
import { projectLabel } from '../stack/removal.js';
import { waitForTenantReady } from './wait-ready.js';
import { swarmNodeHost } from '../swarm/swarm-stack.js';
import { choosePorts, type PortPlan } from '../allocation/ports.js';
import { firstFreeBlock, parsePool } from '../allocation/subnets.js';
import { TemplateError } from '../templates/render-compose.js';
import { generateSecrets, type NamedSecrets } from '../secrets/generate.js';
import { readNamedSecretFiles } from '../secrets/env-file.js';
import { configuredTemplate, hostValuesOf, portRangesOf } from '../templates/configured.js';
import { pitrService, withWalArchive } from '../templates/wal-archive.js';
import { assertValidTemplate, renderTemplateWith, sampleRender, templateWarnings } from '../templates/validate.js';
import { withSecretCopies } from '../templates/secret-copies.js';
import { fillBlockText, templateValues } from '../templates/values.js';
import type { Template } from '../templates/template.js';
import { tenantPaths, writeTenantFiles, type TenantPaths } from './files.js';
import { renderManifest } from './manifest.js';
import { tenantDoorUrl } from '../frontdoor/layout.js';
import { removeTenantStack } from './remove.js';
import { applyTenantSchema } from './schema.js';
import { suspendedRefusal } from './day2-target.js';
import { publicPortNames, unpublishPrivatePorts } from '../templates/private-ports.js';
import { TenantRegistry, wrongHost, type TenantRecord } from './registry.js';
import { holdTenant } from './hold.js';
import type { AdminDb } from '../admin-db/database.js';
import { reserve as reserveAllocations, type Reservation } from '../allocation/reserve.js';
import { applyDefaultModules } from '../modules/store.js';
import { createApiKey, revokeApiKeysById } from '../api-keys/store.js';
import { recordAudit } from '../audit/write.js';
import { openSecretBox, type SecretBox } from '../secrets/master-key.js';
import { clearTenantSecrets, readNamedTenantSecrets, storeTenantSecrets } from '../secrets/sealed-store.js';
import { describeDeployment, recordDeployment } from './deployments.js';

export interface ProvisionInput {
  id: unknown;
  name?: unknown;
  plan?: unknown;
  port?: unknown;
  dryRun?: boolean;
  showSecrets?: boolean;
  /** The template's name (default: templates.default, crm). */
  template?: unknown;
  /** Profiles of the template to switch on (--with). */
  with?: unknown;
  /**
   * Take over Docker objects carrying the tenant's project label that no row or kept data accounts
   * for (another registry's tenant, data left behind): they are treated as kept data (never removed
   * by this run) and need their passwords in customers/<id>/secrets/. Without it they are refused (exit 5).
   */
  adopt?: boolean;
  /** A swarm tenant whose kept data's node left the swarm, is down, or lost a volume: start on empty volumes instead of refusing. */
  freshData?: boolean;
}

export interface ProvisionResult {
  id: string;
  name: string;
  plan: string;
  /** active: provisioned now; already-active: nothing to do; planned: --dry-run */
  outcome: 'active' | 'already-active' | 'planned';
  project: string;
  /** The Docker host of the fleet the tenant is on. */
  host: string;
  template: string;
  profiles: string[];
  /** The app's address (the template's front door port); null for a template without one. */
  url: string | null;
  ports: PortPlan;
  subnet: string;
  directory: string;
  durationMs: number;
  appliedMigrations?: string[];
  /** Created by this provision and shown only here; the admin database keeps its hash. */
  initialApiKey?: { id: string; prefix: string; key: string };
  rendered?: string;
  secrets?: NamedSecrets;
  /** --show-secrets found none to show (folder or a file unreadable): why; the tenant is active all the same. */
  secretsWarning?: string;
}

/** Compose may still find a chosen port or subnet taken (something took it after we checked): retry, bounded. */
const maxAllocationAttempts = 3;

/**
 * Everything about a provision that can be refused offline (no admin database, no Docker): the id,
 * name, plan, port, template (loaded and validated) and profiles. A bad one is exit 2 with nothing
 * created or started, so the CLI runs this before placement opens the admin database.
 */
export type CheckedProvisionInput = Awaited<ReturnType<typeof checkProvisionInput>>;

export async function checkProvisionInput(ctx: Pick<Context, 'config'>, raw: ProvisionInput) {
  const id = parseTenantId(raw.id);
  const name = raw.name === undefined ? id : parseOrUsage(tenantNameSchema, raw.name, 'tenant name');
  const plan = parseOrUsage(planSchema, raw.plan ?? 'standard', 'plan');
  const fixedPort = raw.port === undefined ? undefined : parseOrUsage(portOverrideSchema, raw.port, '--port');
  const template = await configuredTemplate(ctx.config, raw.template === undefined ? undefined : parseOrUsage(templateNameSchema, raw.template, 'template'));
  assertValidTemplate(template, hostValuesOf(ctx.config));
  const profiles = parseProfiles(template, raw.with);
  const fixed = fixedPort === undefined ? undefined : { name: frontdoorPortOf(template, '--port'), port: fixedPort };
  return { id, name, plan, fixedPort, template, profiles, fixed };
}

/** `checked`: what checkProvisionInput already made of `raw` (the CLI checks before placement), so it is not loaded twice. */
export async function provision(ctx: Context, raw: ProvisionInput, checked?: CheckedProvisionInput): Promise<ProvisionResult> {
  const started = ctx.clock.now();
  const { id, name, plan, fixedPort, template, profiles, fixed } = checked ?? (await checkProvisionInput(ctx, raw));
  const { config } = ctx;
  // An operator's template without the shipped ones' hardening is provisioned, and said so.
  for (const warning of templateWarnings(template, hostValuesOf(config))) ctx.reporter.info(`warning: template ${template.name}: ${warning}`);
  const project = projectName(config.composeProjectPrefix, id);
  const paths = tenantPaths(config.customersDir, id);
  const pool = parsePool(config.subnets.pool, config.subnets.prefixLength);
  const render = (reservation: Reservation) => renderTenant(template, { id, name, plan, reservation, ctx });
  const shape = { template, profiles };

  if (raw.dryRun) {
    // Touches neither Docker nor the registry: the ports shown are free now but not reserved.
    const choice = await choosePorts(ctx.dockerHost, portRangesOf(config, template, profiles), new Set(), { fixed });
    if (!choice.ok) throw new TenantctlError('conflict', `${choice.service} port: ${choice.reason}`);
    const reservation = { ports: choice.plan, subnet: firstFreeBlock(pool, new Set())! };
    return { ...summary(ctx, { id, name, plan, project, paths, reservation, started, ...shape }), outcome: 'planned', rendered: render(reservation) };
  }

  // Refused before anything exists, rather than after a reservation.
  await mkdir(config.customersDir, { recursive: true }).catch((error) => {
    throw new TenantctlError('usage', `customersDir ${config.customersDir} cannot be created: ${messageOf(error)}`, { cause: error });
  });
  // Detecting the compose flavour runs the docker CLI: let it overlap the admin database start-up.
  composeOn(ctx.dockerHost).catch(ignoreFailure('a head start only: its failure is reported where the client is used'));
  // The host's networks are asked for while the admin database opens; the first reservation uses
  // the answer (a network made meanwhile by someone else makes compose report an overlap: retried).
  const hostSubnets = networkSubnets(ctx.dockerHost, ctx.signal);
  hostSubnets.catch(ignoreFailure('awaited (and reported) by the reservation'));
  // What the engine already holds under the tenant's project label, asked meanwhile too: objects no
  // row accounts for are refused below, before anything of this run exists.
  const labelled = objectsByLabel(ctx.dockerHost, projectLabel(project), ctx.signal);
  labelled.catch(ignoreFailure('awaited (and reported) below'));
  await requireImages(ctx, template, profiles);
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  // A wrong or missing master key is refused here, before any row, port or file exists.
  const box = await openSecretBox(db, { env: ctx.env, stateDir: config.stateDir });
  const unlock = await holdTenant(ctx, id);
  try {
    const existing = await registry.get(id);
    if (existing?.status === 'active') {
      const reservation = { ports: await registry.portsOf(existing), subnet: existing.subnet ?? '' };
      const recorded = await configuredTemplate(config, existing.template).catch(failureMeans(template, 'a recorded template that cannot be loaded now: the summary names the configured one'));
      return { ...summary(ctx, { id, name: existing.name, plan: existing.plan, project: existing.composeProject, paths, reservation, started, template: recorded, profiles: existing.profiles }), outcome: 'already-active' };
    }
    // A stopped tenant is whole, with its data: provisioning it would clean it up as a failed attempt.
    if (existing?.status === 'stopped') throw new TenantctlError('conflict', `tenant ${id} is stopped; start it with \`tenantctl start ${id}\``);
    // So is a suspended one: its data, keys and allocations are kept until it is resumed or deprovisioned.
    if (existing?.status === 'suspended') throw suspendedRefusal(existing, 'be provisioned again');
    // The tenant's Docker objects (a failed attempt's, or kept data) live on the host it is
    // recorded on: looking for them on another host would find nothing and lose track of them.
    if (existing && existing.host !== ctx.dockerHost.id && (existing.status !== 'deprovisioned' || existing.keptData)) {
      throw wrongHost(id, existing.host, ctx.dockerHost.id);
    }
    // Objects of the tenant's project that no row accounts for belong to someone else (a second
    // registry on this engine, an older admin database restored, a row deleted by hand): reusing
    // them would fail on their passwords, and a rollback would delete another tenant's data.
    // Asked again under the lock when the early answer found something: settling an operation a
    // killed run left (holdTenant) may have removed it meanwhile.
    const found = await labelled;
    const here = found.containers.length + found.networks.length + found.volumes.length > 0 ? await objectsByLabel(ctx.dockerHost, projectLabel(project), ctx.signal) : found;
    // A swarm tenant's kept data must be on the node recorded at deprovision --keep-data (only that
    // node is asked), or it is refused unless --fresh-data gives it up.
    const swarmKept = ctx.dockerHost.kind === 'swarm' && existing?.status === 'deprovisioned' && existing.keptData;
    const keepsSwarmData = swarmKept ? await requireKeptSwarmData(ctx, id, project, paths, raw.freshData === true) : false;
    if (raw.freshData === true && !swarmKept) throw new TenantctlError('usage', `--fresh-data is for a tenant on a swarm whose kept data cannot be reached; ${id} has none`);
    // Otherwise on a swarm the volumes are on the nodes (the stack's deploy would place it where they are).
    const current = ctx.dockerHost.kind === 'swarm' && !swarmKept
      ? { ...here, volumes: [...here.volumes, ...(await (await import('../swarm/swarm-stack.js')).stackVolumes(ctx.dockerHost, project, ctx.signal)).map(({ node, volume }) => `${node.hostname}/${volume}`)] }
      : here;
    const adopting = refuseUnaccounted(id, project, existing, current, raw.adopt === true);
    // Kept data (deprovision --keep-data, or adopted objects) is reused with the passwords it was
    // created with, and a failed attempt to bring it back keeps it too; anything else left by a
    // failed or interrupted run of this registry is removed so this run starts clean.
    const keptData = (existing?.keptData === true && (!swarmKept || keepsSwarmData)) || adopting;
    if (swarmKept && !keepsSwarmData) await forgetKeptSwarmData(paths);
    if (keptData && existing?.keptData && existing.template !== template.name) {
      throw new TenantctlError('usage', `the kept data of ${id} was made by template ${existing.template}; provision it with --template ${existing.template}, or deprovision it without --keep-data first`);
    }
    const reusedSecrets = keptData ? await keptDataSecrets(db, box, id, paths, Object.keys(template.block.secrets)) : undefined;
    if (existing && existing.status !== 'deprovisioned') {
      ctx.reporter.step(`cleaning up the ${existing.status} attempt`);
      await removeTenantStack(ctx, { project: existing.composeProject, paths, keepData: keptData });
    }

    await ctx.pause('provision:locked');
    const run: RecordedRun = { id, name, plan, project, paths, pool, fixed, render, template, profiles, started, keptData, secrets: reusedSecrets ?? generateSecrets(template.block.secrets), createdKeys: [] };
    // The row and the reservation are made together: a refused reservation records nothing.
    const reservation = await reserve(ctx, run, { ports: new Set(), subnets: new Set() }, true, hostSubnets);
    let sealing: Promise<void> | undefined;
    try {
      await ctx.pause('provision:reserved');
      // Sealed under the master key in the admin database, so the secret files are not the only
      // copy; written while compose brings the stack up (awaited before readiness: a failure
      // still rolls the run back).
      sealing = storeTenantSecrets(db, box, id, run.secrets);
      sealing.catch(ignoreFailure('awaited (and reported) by provisionRecorded'));
      return await provisionRecorded(ctx, run, reservation, sealing);
    } catch (error) {
      // The rollback forgets the sealed copy: it must not race a write still in flight.
      await sealing?.catch(ignoreFailure('only waited for, so the rollback does not race it: the error thrown is the cause'));
      throw await rollBack(ctx, run, error);
    }
  } finally {
    await unlock();
  }
}

/**
 * Undoes a failed run: the stack (kept data survives), the secrets (unless they protect kept data),
 * the allocations and keys; records the failure. Every step is tried whatever the others do, and
 * the returned error is always the first cause, with what the rollback could not do in its details.
 */
async function rollBack(ctx: Context, run: RecordedRun, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  const db = await ctx.adminDb();
  // Only under a lock still ours: another tenantctl may be provisioning this tenant now.
  const lost = await db.locksProven();
  if (lost) {
    first.details.push(`nothing was rolled back (${lost.message}); the next \`tenantctl provision ${run.id}\` cleans up`);
    return first;
  }
  ctx.reporter.step('rolling back');
  const problems: string[] = [];
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (problem) {
      problems.push(`${what}: ${messageOf(problem)}`);
    }
  };
  // Data the operator asked to keep survives a failed attempt to bring it back.
  await attempt('removing the stack', () => removeTenantStack(ctx, { project: run.project, paths: run.paths, keepData: run.keptData }));
  const stackRemoved = problems.length === 0;
  if (!run.keptData) await attempt('forgetting the secrets', () => clearTenantSecrets(db, run.id)); // the data they protected is gone
  const reason = problems.length > 0 ? `${first.message}; rollback incomplete: ${problems.join('; ')}` : first.message;
  await attempt('recording the failure', () => new TenantRegistry(db).markFailed(run.id, reason, async (client) => {
    // The key this run made, if it got that far; keys the tenant had before (a move's) are not this run's.
    await revokeApiKeysById(db, client, run.id, run.createdKeys);
  }, { release: stackRemoved }));
  first.details.push(problems.length > 0 ? `rollback incomplete: ${problems.join('; ')}; run \`tenantctl provision ${run.id}\` again or \`tenantctl doctor\`` : 'rolled back: nothing of this run is left');
  return first;
}

/**
 * Docker objects labelled with the tenant's project are accounted for by a row of this registry on
 * this host that is not deprovisioned (a failed or interrupted attempt of its own) or that kept its
 * data; anything else is another's, refused (exit 5) unless `adopt` (returns whether it adopts).
 */
function refuseUnaccounted(id: string, project: string, existing: TenantRecord | undefined, found: LabelledObjects, adopt: boolean): boolean {
  const accounted = existing !== undefined && (existing.status !== 'deprovisioned' || existing.keptData);
  const count = found.containers.length + found.networks.length + found.volumes.length;
  if (accounted || count === 0) return false;
  if (adopt) return true;
  const what = [
    found.containers.length ? `${found.containers.length} container(s)` : '',
    found.networks.length ? `${found.networks.length} network(s)` : '',
    found.volumes.length ? `volumes ${found.volumes.join(', ')}` : '',
  ].filter(Boolean).join(', ');
  const row = existing ? `${id} is deprovisioned here without kept data` : `no tenant ${id} is on record`;
  throw new TenantctlError('conflict', `this Docker host already has ${what} of project ${project}, but ${row}: they belong to another registry or were left behind; \`tenantctl provision ${id} --adopt\` takes them over as its data (its passwords must be in customers/${id}/secrets/), or remove them yourself`);
}

/** The passwords kept data was created with: from customers/<id>/secrets/, else the sealed copy; never new ones. */
async function keptDataSecrets(db: AdminDb, box: SecretBox, id: string, paths: TenantPaths, names: string[]): Promise<NamedSecrets> {
  const fromFile = await readNamedSecretFiles(paths.secretsDir, names);
  if (fromFile) return fromFile;
  try {
    return await readNamedTenantSecrets(db, box, id, names);
  } catch (error) {
    // New passwords would not open the kept database: say why instead of failing later as "not ready".
    const kind = error instanceof TenantctlError ? error.kind : 'adminDb';
    throw new TenantctlError(kind, `the kept data of ${id} needs its passwords, but ${paths.secretsDir} is missing or incomplete and the sealed copy cannot be read: ${messageOf(error)}`, { cause: error });
  }
}


interface RecordedRun {
  id: string;
  name: string;
  plan: Plan;
  project: string;
  paths: TenantPaths;
  pool: ReturnType<typeof parsePool>;
  /** --port: the template's front door port, fixed. */
  fixed?: { name: string; port: number };
  render: (reservation: Reservation) => string;
  /** The template rendered, recorded (name and checksum) with the tenant and its deployment. */
  template: Template;
  /** Its profiles switched on (--with). */
  profiles: string[];
  started: number;
  /** The tenant's data volumes are being kept: no step of this run may remove them. */
  keptData: boolean;
  secrets: NamedSecrets;
  /** API keys this run made (its initial key): its rollback revokes these, and only these. */
  createdKeys: string[];
}

interface Avoid {
  ports: Set<number>;
  subnets: Set<string>;
}

async function reserve(ctx: Context, run: RecordedRun, avoid: Avoid, first: boolean, hostSubnets?: Promise<string[]>): Promise<Reservation> {
  const { config } = ctx;
  ctx.reporter.step(first ? 'reserving ports and subnet' : 'reserving other ports');
  const db = await ctx.adminDb();
  const host = ctx.dockerHost;
  const start = first
    ? (client: Parameters<TenantRegistry['startProvisioning']>[0]) => new TenantRegistry(db).startProvisioning(client, {
      id: run.id, name: run.name, plan: run.plan, host: host.id, composeProject: run.project, template: run.template.name, templateChecksum: run.template.checksum, profiles: run.profiles,
    })
    : undefined;
  return reserveAllocations(db, run.id, host.id, async (held) => {
    const choice = await choosePorts(host, portRangesOf(config, run.template, run.profiles), new Set([...held.ports, ...avoid.ports]), { fixed: run.fixed });
    if (!choice.ok) throw new TenantctlError('conflict', `${choice.service} port: ${choice.reason}`);
    // Like ports, a subnet must be free in the registry and on the host: other networks may use the pool.
    const inUse = [...(await (hostSubnets ?? networkSubnets(host, ctx.signal))), ...avoid.subnets];
    const subnet = firstFreeBlock(run.pool, held.subnets, inUse);
    if (!subnet) throw new TenantctlError('conflict', `subnet pool ${config.subnets.pool} is full (every /${config.subnets.prefixLength} block is held)`);
    return { ports: choice.plan, subnet };
  }, start, { appPort: run.template.block.frontdoor?.port, engineId: host.engineId({ signal: ctx.signal }) });
}

async function provisionRecorded(ctx: Context, run: RecordedRun, firstReservation: Reservation, sealing: Promise<void>): Promise<ProvisionResult> {
  const { config, reporter, signal } = ctx;
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  const compose = await composeOn(ctx.dockerHost);
  const avoid: Avoid = { ports: new Set(), subnets: new Set() };
  let reservation = firstReservation;
  let rendered = '';

  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) reservation = await reserve(ctx, run, avoid, false);
    reporter.step(`rendering ${run.paths.composeFile}`);
    rendered = run.render(reservation);
    const manifest = renderManifest({
      ...run, template: run.template.name, appUrl: urlOf(ctx, run.template, reservation.ports), doorUrl: tenantDoorUrl(config, run.id), bindAddress: ctx.dockerHost.publishAddress(config.bindAddress),
      ports: Object.entries(run.template.block.ports).filter(([name]) => reservation.ports[name] !== undefined).map(([name, p]) => ({
        name, service: p.service, host: reservation.ports[name]!, container: p.container, published: !ctx.dockerHost.keepsPortsPrivate || publicPortNames(run.template.block).has(name),
      })),
      subnet: reservation.subnet, composeFile: run.paths.composeFile, envFile: run.paths.envFile, flavour: compose.flavour,
    });
    await writeTenantFiles(run.paths, { compose: rendered, manifest, secrets: run.secrets, project: run.project, initdbDir: run.template.initdbDir ?? null }).catch((error) => {
      throw new TenantctlError('usage', `cannot write ${run.paths.dir}: ${messageOf(error)}; customersDir (TENANTCTL_CUSTOMERS_DIR) must be a writable directory`, { cause: error });
    });

    reporter.step(`starting ${run.project} (${compose.flavour === 'v2' ? 'docker compose' : 'docker-compose'} up)`);
    try {
      await Promise.all([
        compose.up(
          { project: run.project, file: run.paths.composeFile, envFile: run.paths.envFile, profiles: run.profiles },
          { signal, timeoutMs: config.healthDeadlineSeconds * 1000 + composeUpGraceMs, onProgress: reporter.detail },
        ),
        ctx.pause('provision:compose-up'), // while compose is still creating the stack
      ]);
      break;
    } catch (error) {
      // Something outside the registry took a port or the subnet after we checked: choose again, bounded.
      const stderr = error instanceof ComposeError ? error.result.stderrTail : '';
      const taken = portsReportedTaken(stderr);
      const subnetTaken = subnetReportedTaken(stderr);
      const retryable = (taken.length > 0 || subnetTaken) && !(run.fixed !== undefined && taken.includes(run.fixed.port));
      if (!retryable || attempt >= maxAllocationAttempts) {
        // Taken ports or subnet are conflicts (exit 5), however they were found out.
        if (taken.length > 0 || subnetTaken) throw new TenantctlError('conflict', messageOf(error), { cause: error });
        throw error;
      }
      reporter.info(taken.length > 0 ? `port ${taken.join(', ')} was taken meanwhile; choosing again` : `subnet ${reservation.subnet} is in use on this host; choosing again`);
      taken.forEach((port) => avoid.ports.add(port));
      if (subnetTaken) avoid.subnets.add(reservation.subnet);
      // Kept data stays: only this attempt's containers and network go.
      await removeTenantStack(ctx, { project: run.project, paths: run.paths, keepData: run.keptData });
    }
  }

  await sealing;
  await ctx.pause('provision:waiting');
  reporter.step('waiting until every service is ready');
  const deadlineMs = config.healthDeadlineSeconds * 1000;
  // A swarm tenant's containers and published ports are on the node its stack is pinned to.
  const onNode = ctx.dockerHost.kind === 'swarm' ? { ...ctx, dockerHost: await swarmNodeHost(ctx.dockerHost, run.project, signal) } : ctx;
  // The schema goes in as soon as its database is ready, while the other services are still coming up.
  const target = run.template.block.migrations;
  const migrationsDir = run.template.migrationsDir;
  const tenant = { id: run.id, name: run.name, plan: run.plan, subnet: reservation.subnet, ports: reservation.ports };
  let schema: Promise<string[]> | undefined;
  const applySchema = () => (schema ??= (async () => {
    if (!target || !migrationsDir) return [];
    await ctx.pause('provision:schema');
    const values = templateValues(run.template, tenant, hostValuesOf(config));
    // As the server's superuser over its local socket, through the engine, each file as the owner (tenants/schema.ts).
    const applied = await applyTenantSchema(
      { host: onNode.dockerHost, project: run.project, service: target.service, owner: target.user, database: fillBlockText(target.database, values), superuserOwner: target.superuserOwner },
      { clock: ctx.clock, deadlineMs, signal },
      { dir: migrationsDir, pause: ctx.pause },
    );
    return applied.migrations;
  })());
  const containers = await waitForTenantReady(onNode, { project: run.project, rendered, template: run.template, tenant, secrets: run.secrets, profiles: run.profiles }, {
    onReady: (service) => {
      if (service === target?.service) applySchema().catch(ignoreFailure('its failure is awaited below'));
    },
  });

  if (target && migrationsDir) reporter.step('applying the tenant schema');
  const appliedMigrations = await applySchema();
  if (signal.aborted) throw new TenantctlError('interrupted', 'interrupted');

  await ctx.pause('provision:activating');
  // The initial API key exists only in this result: shown once, stored as a hash.
  const apiKey = await createApiKey(db, run.id, 'initial');
  run.createdKeys.push(apiKey.id);
  // On a swarm, the node publishes the ports: the URL names it, not the manager.
  const url = urlOf(onNode, run.template, reservation.ports);
  // What the tenant runs (template, image ids, plan, compose file): its last good state, for upgrades' rollback.
  const deployment = await describeDeployment(onNode.dockerHost, { project: run.project, templateName: run.template.name, templateChecksum: run.template.checksum, plan: run.plan, composeFile: rendered, signal }, containers);
  await registry.markActive(run.id, url, async (client) => {
    await recordDeployment(db, client, run.id, 'provision', deployment);
    const modules = await applyDefaultModules(client, run.id);
    if (modules.length > 0) await recordAudit(db, client, run.id, 'modules.defaults', null, { modules });
  });
  return { ...summary(ctx, { ...run, reservation }), url, outcome: 'active', appliedMigrations, initialApiKey: { id: apiKey.id, prefix: apiKey.prefix, key: apiKey.key } };
}

function summary(
  ctx: Context,
  s: { id: string; name: string; plan: string; project: string; paths: TenantPaths; reservation: Reservation; started: number; template: Template; profiles: string[] },
): Omit<ProvisionResult, 'outcome'> {
  return {
    id: s.id, name: s.name, plan: s.plan, project: s.project, host: ctx.dockerHost.id, template: s.template.name, profiles: s.profiles,
    url: urlOf(ctx, s.template, s.reservation.ports),
    ports: s.reservation.ports, subnet: s.reservation.subnet, directory: s.paths.dir,
    durationMs: ctx.clock.now() - s.started,
  };
}

export function renderTenant(template: Template, { id, name, plan, reservation, ctx }: { id: string; name: string; plan: Plan; reservation: Reservation; ctx: Context }): string {
  const { config } = ctx;
  try {
    const values = templateValues(template, { id, name, plan, subnet: reservation.subnet, ports: reservation.ports }, hostValuesOf(config));
    const plain = renderTemplateWith(template, { ...values, bind_address: ctx.dockerHost.publishAddress(config.bindAddress) });
    // A plan with point-in-time recovery: its PostgreSQL archives WAL into a volume of its own (src/pitr/).
    const rendered = config.plans[plan].pitr ? withWalArchive(plain, pitrService(template.block, template.name), { archiveTimeoutSeconds: config.pitr.archiveTimeoutSeconds }) : plain;
    // A remote host or a swarm publishes the front door's port only; the rest is reached through the engine.
    const published = ctx.dockerHost.keepsPortsPrivate ? unpublishPrivatePorts(rendered, template.block, reservation.ports) : rendered;
    // Compose mounts a file secret with the host file's owner: a service that starts as its own
    // user gets its own copies (none on a swarm, where such a service starts as root: swarm/swarm-render.ts).
    return ctx.dockerHost.kind === 'swarm' ? published : withSecretCopies(published);
  } catch (error) {
    if (error instanceof TemplateError) throw new TenantctlError('usage', `template ${template.name} (${template.composeFile}): ${error.message}`);
    throw error;
  }
}

/** A template name, as --template takes it. */
const templateNameSchema = z.string().check(z.regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be a template name (tenantctl templates list)'));

/** --with: profiles the template declares, each once. */
function parseProfiles(template: Template, raw: unknown): string[] {
  const asked = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  const unknown = asked.filter((p) => !(p in template.block.profiles));
  if (unknown.length > 0) {
    const known = Object.keys(template.block.profiles);
    throw new TenantctlError('usage', `template ${template.name} has no profile ${unknown.join(', ')}${known.length > 0 ? `; its profiles: ${known.join(', ')}` : ' (it has no optional parts)'}`);
  }
  return [...new Set(asked)];
}

/** The port --port fixes: the template's front door port. */
function frontdoorPortOf(template: Template, flag: string): string {
  if (!template.block.frontdoor) throw new TenantctlError('usage', `${flag}: template ${template.name} has no front door port (x-tenantctl.frontdoor) to fix`);
  return template.block.frontdoor.port;
}

/** The tenant's address: its template's front door port on the public host (a remote host's own address); none without one. */
function urlOf(ctx: Context, template: Pick<Template, 'block'>, ports: PortPlan): string | null {
  const port = template.block.frontdoor ? ports[template.block.frontdoor.port] : undefined;
  return port === undefined ? null : appUrlFor(ctx.config, port, ctx.dockerHost);
}

/** The images the template runs (profiles that are off left out), rendered with sample values. */
function templateImages(ctx: Context, template: Template, profiles: readonly string[]): string[] {
  const services = sampleRender(template, hostValuesOf(ctx.config)).tree.services as Record<string, { image?: string; profiles?: string[] }>;
  return [...new Set(Object.values(services).filter((s) => !s.profiles?.length || s.profiles.some((p) => profiles.includes(p))).map((s) => String(s.image)))];
}

/** Refused before anything is created: compose would otherwise try a registry pull and fail late. */
async function requireImages(ctx: Context, template: Template, profiles: readonly string[]): Promise<void> {
  const images = templateImages(ctx, template, profiles);
  // A remote host without a registry gets the images from this machine's engine, once.
  if (!ctx.dockerHost.isLocal) {
    ctx.reporter.step(`checking the images on ${ctx.dockerHost.id}`);
    const { shipped } = await ctx.dockerHost.ensureImages(images, { signal: ctx.signal });
    if (shipped.length > 0) ctx.reporter.info(`copied ${shipped.join(', ')} to ${ctx.dockerHost.id}`);
  }
  const missing = await missingImages(ctx.dockerHost, images, ctx.signal);
  if (missing.length > 0) {
    throw new TenantctlError('docker', `image ${missing.join(', ')} is not on this Docker host; build the defaults with scripts/build-images.sh or point TENANTCTL_*_IMAGE (or the template's image variables) at images you have`);
  }
}
