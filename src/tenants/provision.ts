import { mkdir, readFile } from 'node:fs/promises';
import { TenantctlError, messageOf } from '../common/errors.js';
import { appUrlFor, type Context } from '../context.js';
import { parseOrUsage, parseTenantId, planSchema, portOverrideSchema, tenantNameSchema, type Plan } from './input.js';
import { planResources } from './plans.js';
import { projectName, portsReportedTaken, subnetReportedTaken } from '../stack/compose-argv.js';
import { composeUpGraceMs } from '../common/timeouts.js';
import { ComposeError } from '../stack/compose.js';
import { missingImages, networkSubnets } from '../stack/docker.js';
import { waitForTenantReady } from './wait-ready.js';
import { choosePorts, type PortPlan } from '../allocation/ports.js';
import { firstFreeBlock, parsePool } from '../allocation/subnets.js';
import { renderTemplate, TemplateError } from '../stack/template.js';
import { generateTenantSecrets, type TenantSecrets } from '../secrets/generate.js';
import { readEnvFileSecrets } from '../secrets/env-file.js';
import { tenantPaths, writeTenantFiles, type TenantPaths } from './files.js';
import { renderManifest } from './manifest.js';
import { tenantDoorUrl } from '../frontdoor/layout.js';
import { removeTenantStack } from './remove.js';
import { applyTenantSchema } from './schema.js';
import { TenantRegistry, wrongHost } from './registry.js';
import type { AdminDb } from '../admin-db/database.js';
import { reserve as reserveAllocations, type Reservation } from '../allocation/reserve.js';
import { applyDefaultModules } from '../modules/store.js';
import { createApiKey, revokeAllApiKeys } from '../api-keys/store.js';
import { recordAudit } from '../audit/write.js';
import { openSecretBox, type SecretBox } from '../secrets/master-key.js';
import { clearTenantSecrets, readTenantSecrets, storeTenantSecrets } from '../secrets/sealed-store.js';
import { describeDeployment, recordDeployment } from './deployments.js';

export interface ProvisionInput {
  id: unknown;
  name?: unknown;
  plan?: unknown;
  port?: unknown;
  dryRun?: boolean;
  showSecrets?: boolean;
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
  url: string;
  ports: PortPlan;
  subnet: string;
  directory: string;
  durationMs: number;
  appliedMigrations?: string[];
  /** Created by this provision and shown only here; the admin database keeps its hash. */
  initialApiKey?: { id: string; prefix: string; key: string };
  rendered?: string;
  secrets?: TenantSecrets;
}

/** Compose may still find a chosen port or subnet taken (something took it after we checked): retry, bounded. */
const maxAllocationAttempts = 3;

export async function provision(ctx: Context, raw: ProvisionInput): Promise<ProvisionResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(raw.id);
  const name = raw.name === undefined ? id : parseOrUsage(tenantNameSchema, raw.name, 'tenant name');
  const plan = parseOrUsage(planSchema, raw.plan ?? 'standard', 'plan');
  const fixedPort = raw.port === undefined ? undefined : parseOrUsage(portOverrideSchema, raw.port, '--port');
  const { config } = ctx;
  const project = projectName(config.composeProjectPrefix, id);
  const paths = tenantPaths(config.customersDir, id);
  const template = await readFile(config.templatePath, 'utf8').catch((error) => {
    throw new TenantctlError('usage', `template ${config.templatePath}: ${messageOf(error)}`);
  });
  const pool = parsePool(config.subnets.pool, config.subnets.prefixLength);
  const render = (reservation: Reservation) => renderTenant(template, { id, name, plan, reservation, ctx });

  if (raw.dryRun) {
    // Touches neither Docker nor the registry: the ports shown are free now but not reserved.
    const choice = await choosePorts(ctx.dockerHost, config.ports, new Set(), { fixedApp: fixedPort });
    if (!choice.ok) throw new TenantctlError('conflict', `${choice.service} port: ${choice.reason}`);
    const reservation = { ports: choice.plan, subnet: firstFreeBlock(pool, new Set())! };
    return { ...summary(ctx, { id, name, plan, project, paths, reservation, started }), outcome: 'planned', rendered: render(reservation) };
  }

  // Refused before anything exists, rather than after a reservation.
  await mkdir(config.customersDir, { recursive: true }).catch((error) => {
    throw new TenantctlError('usage', `customersDir ${config.customersDir} cannot be created: ${messageOf(error)}`, { cause: error });
  });
  // Detecting the compose flavour runs the docker CLI: let it overlap the admin database start-up.
  ctx.dockerHost.compose().catch(() => {});
  // The host's networks are asked for while the admin database opens; the first reservation uses
  // the answer (a network made meanwhile by someone else makes compose report an overlap: retried).
  const hostSubnets = networkSubnets(ctx.dockerHost, ctx.signal);
  hostSubnets.catch(() => {}); // awaited (and reported) by the reservation
  await requireImages(ctx);
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  // A wrong or missing master key is refused here, before any row, port or file exists.
  const box = await openSecretBox(db, { env: ctx.env, stateDir: config.stateDir });
  const unlock = await registry.lock(id);
  try {
    const existing = await registry.get(id);
    if (existing?.status === 'active') {
      const reservation = { ports: existing.ports as PortPlan, subnet: existing.subnet ?? '' };
      return { ...summary(ctx, { id, name: existing.name, plan: existing.plan, project: existing.composeProject, paths, reservation, started }), outcome: 'already-active' };
    }
    // A stopped tenant is whole, with its data: provisioning it would clean it up as a failed attempt.
    if (existing?.status === 'stopped') throw new TenantctlError('conflict', `tenant ${id} is stopped; start it with \`tenantctl start ${id}\``);
    // The tenant's Docker objects (a failed attempt's, or kept data) live on the host it is
    // recorded on: looking for them on another host would find nothing and lose track of them.
    if (existing && existing.host !== ctx.dockerHost.id && (existing.status !== 'deprovisioned' || existing.keptData)) {
      throw wrongHost(id, existing.host, ctx.dockerHost.id);
    }
    // Kept data (deprovision --keep-data) is reused with the passwords it was created with, and a
    // failed attempt to bring it back keeps it too; anything else left by a failed or interrupted
    // run is removed so this run starts clean.
    const keptData = existing?.keptData === true;
    const reusedSecrets = keptData ? await keptDataSecrets(db, box, id, paths) : undefined;
    if (existing && existing.status !== 'deprovisioned') {
      ctx.reporter.step(`cleaning up the ${existing.status} attempt`);
      await removeTenantStack(ctx, { project: existing.composeProject, paths, keepData: keptData });
    }

    await ctx.pause('provision:locked');
    const run: RecordedRun = { id, name, plan, project, paths, pool, fixedPort, render, template, started, keptData, secrets: reusedSecrets ?? generateTenantSecrets() };
    // The row and the reservation are made together: a refused reservation records nothing.
    const reservation = await reserve(ctx, run, { ports: new Set(), subnets: new Set() }, true, hostSubnets);
    try {
      await ctx.pause('provision:reserved');
      // Sealed under the master key in the admin database: the .env file is not the only copy.
      await storeTenantSecrets(db, box, id, run.secrets);
      return await provisionRecorded(ctx, run, reservation);
    } catch (error) {
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
  ctx.reporter.step('rolling back');
  const db = await ctx.adminDb();
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
    await revokeAllApiKeys(db, client, run.id);
  }, { release: stackRemoved }));
  first.details.push(problems.length > 0 ? `rollback incomplete: ${problems.join('; ')}; run \`tenantctl provision ${run.id}\` again or \`tenantctl doctor\`` : 'rolled back: nothing of this run is left');
  return first;
}

/** The passwords kept data was created with: from customers/<id>/.env, else the sealed copy; never new ones. */
async function keptDataSecrets(db: AdminDb, box: SecretBox, id: string, paths: TenantPaths): Promise<TenantSecrets> {
  const fromFile = await readEnvFileSecrets(paths.envFile);
  if (fromFile) return fromFile;
  try {
    return await readTenantSecrets(db, box, id);
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
  fixedPort?: number;
  render: (reservation: Reservation) => string;
  /** The template text rendered, recorded (name and checksum) with the tenant's deployment. */
  template: string;
  started: number;
  /** The tenant's data volumes are being kept: no step of this run may remove them. */
  keptData: boolean;
  secrets: TenantSecrets;
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
    ? (client: Parameters<TenantRegistry['startProvisioning']>[0]) => new TenantRegistry(db).startProvisioning(client, { id: run.id, name: run.name, plan: run.plan, host: host.id, composeProject: run.project })
    : undefined;
  return reserveAllocations(db, run.id, host.id, async (held) => {
    const choice = await choosePorts(host, config.ports, new Set([...held.ports, ...avoid.ports]), { fixedApp: run.fixedPort });
    if (!choice.ok) throw new TenantctlError('conflict', `${choice.service} port: ${choice.reason}`);
    // Like ports, a subnet must be free in the registry and on the host: other networks may use the pool.
    const inUse = [...(await (hostSubnets ?? networkSubnets(host, ctx.signal))), ...avoid.subnets];
    const subnet = firstFreeBlock(run.pool, held.subnets, inUse);
    if (!subnet) throw new TenantctlError('conflict', `subnet pool ${config.subnets.pool} is full (every /${config.subnets.prefixLength} block is held)`);
    return { ports: choice.plan, subnet };
  }, start);
}

async function provisionRecorded(ctx: Context, run: RecordedRun, firstReservation: Reservation): Promise<ProvisionResult> {
  const { config, reporter, signal } = ctx;
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  const compose = await ctx.dockerHost.compose();
  const avoid: Avoid = { ports: new Set(), subnets: new Set() };
  let reservation = firstReservation;
  let rendered = '';

  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) reservation = await reserve(ctx, run, avoid, false);
    reporter.step(`rendering ${run.paths.composeFile}`);
    rendered = run.render(reservation);
    const manifest = renderManifest({
      ...run, appUrl: appUrlFor(config, reservation.ports.app), doorUrl: tenantDoorUrl(config, run.id), bindAddress: config.bindAddress, ports: reservation.ports,
      subnet: reservation.subnet, composeFile: run.paths.composeFile, envFile: run.paths.envFile, flavour: compose.flavour,
    });
    await writeTenantFiles(run.paths, { compose: rendered, manifest, secrets: run.secrets, project: run.project }).catch((error) => {
      throw new TenantctlError('usage', `cannot write ${run.paths.dir}: ${messageOf(error)}; customersDir (TENANTCTL_CUSTOMERS_DIR) must be a writable directory`, { cause: error });
    });

    reporter.step(`starting ${run.project} (${compose.flavour === 'v2' ? 'docker compose' : 'docker-compose'} up)`);
    try {
      await Promise.all([
        compose.up(
          { project: run.project, file: run.paths.composeFile, envFile: run.paths.envFile },
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
      const retryable = (taken.length > 0 || subnetTaken) && !(run.fixedPort !== undefined && taken.includes(run.fixedPort));
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

  await ctx.pause('provision:waiting');
  reporter.step('waiting until every service is ready');
  const deadlineMs = config.healthDeadlineSeconds * 1000;
  const address = ctx.dockerHost.probeAddress(config.bindAddress);
  // The schema goes in as soon as the database is ready, while the app and worker are still coming up.
  let schema: Promise<string[]> | undefined;
  const applySchema = () => (schema ??= (async () => {
    await ctx.pause('provision:schema');
    return applyTenantSchema({ host: address, port: reservation.ports.db, password: run.secrets.DB_PASSWORD }, { clock: ctx.clock, deadlineMs, signal }, { dir: config.tenantMigrationsDir });
  })());
  const containers = await waitForTenantReady(ctx, { project: run.project, rendered, ports: reservation.ports, secrets: run.secrets }, {
    onReady: (service) => {
      if (service === 'db') applySchema().catch(() => {}); // its failure is awaited below
    },
  });

  reporter.step('applying the tenant schema');
  const appliedMigrations = await applySchema();
  if (signal.aborted) throw new TenantctlError('interrupted', 'interrupted');

  await ctx.pause('provision:activating');
  // The initial API key exists only in this result: shown once, stored as a hash.
  const apiKey = await createApiKey(db, run.id, 'initial');
  const url = appUrlFor(config, reservation.ports.app);
  // What the tenant runs (template, image ids, plan, compose file): its last good state, for upgrades' rollback.
  const deployment = await describeDeployment(ctx.dockerHost, { project: run.project, templatePath: config.templatePath, template: run.template, plan: run.plan, composeFile: rendered, signal }, containers);
  await registry.markActive(run.id, url, async (client) => {
    await recordDeployment(db, client, run.id, 'provision', deployment);
    const modules = await applyDefaultModules(client, run.id);
    if (modules.length > 0) await recordAudit(db, client, run.id, 'modules.defaults', null, { modules });
  });
  return { ...summary(ctx, { ...run, reservation }), outcome: 'active', appliedMigrations, initialApiKey: { id: apiKey.id, prefix: apiKey.prefix, key: apiKey.key } };
}

function summary(
  ctx: Context,
  s: { id: string; name: string; plan: string; project: string; paths: TenantPaths; reservation: Reservation; started: number },
): Omit<ProvisionResult, 'outcome'> {
  return {
    id: s.id, name: s.name, plan: s.plan, project: s.project, host: ctx.dockerHost.id,
    url: appUrlFor(ctx.config, s.reservation.ports.app),
    ports: s.reservation.ports, subnet: s.reservation.subnet, directory: s.paths.dir,
    durationMs: ctx.clock.now() - s.started,
  };
}

export function renderTenant(template: string, { id, name, plan, reservation, ctx }: { id: string; name: string; plan: Plan; reservation: Reservation; ctx: Context }): string {
  const { config } = ctx;
  try {
    return renderTemplate(template, {
      tenant_id: id,
      tenant_name: name,
      plan,
      image_app: config.images.app,
      image_postgres: config.images.postgres,
      image_redis: config.images.redis,
      bind_address: config.bindAddress,
      'port.app': String(reservation.ports.app),
      'port.db': String(reservation.ports.db),
      'port.redis': String(reservation.ports.redis),
      subnet: reservation.subnet,
      health_interval: `${config.healthIntervalSeconds}s`,
      ...planResources[plan],
    }, { omit: ['x-tenantctl'] });
  } catch (error) {
    if (error instanceof TemplateError) throw new TenantctlError('usage', `template ${config.templatePath}: ${error.message}`);
    throw error;
  }
}

/** Refused before anything is created: compose would otherwise try a registry pull and fail late. */
async function requireImages(ctx: Context): Promise<void> {
  const images = [...new Set(Object.values(ctx.config.images))];
  const missing = await missingImages(ctx.dockerHost, images);
  if (missing.length > 0) {
    throw new TenantctlError('docker', `image ${missing.join(', ')} is not on this Docker host; build the defaults with scripts/build-images.sh or point TENANTCTL_*_IMAGE at images you have`);
  }
}
