import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import { lockSpaces } from '../admin-db/database.js';
import { TenantRegistry } from '../tenants/registry.js';
import { tenantIdSchema } from '../tenants/input.js';
import { tenantPaths } from '../tenants/files.js';
import { servicesOf } from '../tenants/day2-target.js';
import { projectsByLabel, removeObjects } from '../stack/docker.js';
import { describeServices } from '../stack/template.js';
import { recordAudit } from '../audit/write.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { findDiscrepancies, type Finding, type Snapshot } from './findings.js';
import * as z from 'zod/mini';

export interface DoctorResult {
  host: string;
  checked: { tenants: number; stacks: number; allocations: number; folders: number };
  findings: Array<Finding & { fixed?: boolean; fixError?: string }>;
  /** True when nothing is left to fix. */
  healthy: boolean;
}

/**
 * Compares the registry, the allocations, customers/ and what Docker has (by label) on this host,
 * and lists every discrepancy with the command that fixes it. With `fix`, repairs what is safe:
 * containers and networks of stacks nobody owns, stray allocations, folders of tenants whose data
 * is gone, and interrupted provisions (recorded as failed). It never removes a volume.
 */
export async function doctor(ctx: Context, { fix = false }: { fix?: boolean } = {}): Promise<DoctorResult> {
  const snapshot = await takeSnapshot(ctx);
  const findings: DoctorResult['findings'] = findDiscrepancies(snapshot);
  if (fix) {
    for (const finding of findings.filter((f) => f.fixable)) {
      try {
        await repair(ctx, snapshot, finding);
        finding.fixed = true;
      } catch (error) {
        finding.fixed = false;
        finding.fixError = messageOf(error);
      }
    }
  }
  return {
    host: snapshot.host,
    checked: { tenants: snapshot.rows.length, stacks: snapshot.stacks.length, allocations: snapshot.allocations.length, folders: snapshot.folders.length },
    findings,
    healthy: findings.every((f) => f.fixed === true),
  };
}

async function takeSnapshot(ctx: Context): Promise<Snapshot> {
  const host = ctx.dockerHost;
  const stacks = projectsByLabel(host, 'tenantctl.managed=true', ctx.signal);
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  const records = await registry.list();
  const rows = await Promise.all(records.map(async (r) => {
    const row = { id: r.id, status: r.status, keptData: r.keptData, composeProject: r.composeProject, host: r.host, locked: undefined as boolean | undefined, expectedServices: undefined as string[] | undefined };
    // A tenant's whole stack is what its own rendered file holds (its template, its profiles), not crm's.
    const rendered = await readFile(tenantPaths(ctx.config.customersDir, r.id).composeFile, 'utf8').catch(() => undefined);
    if (rendered !== undefined) row.expectedServices = servicesOf(rendered, r.profiles);
    if (r.status === 'provisioning' || r.status === 'deprovisioning') {
      // Free means nobody holds it: the run that set this status is gone.
      const release = await db.tryLock(lockSpaces.tenant, r.id);
      row.locked = release === undefined;
      await release?.();
    }
    return row;
  }));
  const { rows: allocations } = await db.pool.query('SELECT customer_id AS "customerId", kind, value, host FROM admin_allocations').catch(db.unreachable);
  const folders = await readdir(ctx.config.customersDir, { withFileTypes: true }).catch((error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TenantctlError('usage', `cannot read ${ctx.config.customersDir}: ${messageOf(error)}`);
  });
  const template = await readFile(ctx.config.templatePath, 'utf8').catch(() => '');
  return {
    host: host.id,
    projectPrefix: ctx.config.composeProjectPrefix,
    rows,
    allocations,
    // Tenants' stacks only: the local admin database carries tenantctl's label too, and a project
    // whose name holds no valid tenant id (admin is a reserved one) is not a tenant's.
    stacks: (await stacks).filter((stack) => stack.project !== ctx.config.adminDatabase.localProject
      && stack.project.startsWith(`${ctx.config.composeProjectPrefix}-`)
      && z.safeParse(tenantIdSchema, stack.project.slice(ctx.config.composeProjectPrefix.length + 1)).success),
    folders: folders.filter((d) => d.isDirectory() && z.safeParse(tenantIdSchema, d.name).success).map((d) => d.name),
    expectedServices: template ? describeServices(template).map((s) => s.name) : [],
  };
}

async function repair(ctx: Context, snapshot: Snapshot, finding: Finding): Promise<void> {
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  const row = snapshot.rows.find((r) => r.id === finding.tenant);
  const project = row?.composeProject ?? `${snapshot.projectPrefix}-${finding.tenant}`;
  const stack = snapshot.stacks.find((s) => s.project === project);
  const removeContainersAndNetworks = async () => {
    if (stack) await removeObjects(ctx.dockerHost, { containers: stack.containers.map((c) => c.id), networks: stack.networks, volumes: [] }, { volumes: false });
  };
  switch (finding.kind) {
    case 'orphan-stack':
      return removeContainersAndNetworks();
    case 'stray-allocation':
      await db.withTransaction(async (client) => {
        const { rows } = await client.query(
          `DELETE FROM admin_allocations a WHERE a.customer_id = $1 AND a.host = $2
             AND NOT EXISTS (SELECT 1 FROM admin_customers c WHERE c.id = a.customer_id AND c.status IN ('provisioning', 'active', 'stopped', 'deprovisioning'))
           RETURNING kind, value`,
          [finding.tenant, snapshot.host],
        );
        if (rows.length > 0 && snapshot.rows.some((r) => r.id === finding.tenant)) {
          await recordAudit(db, client, finding.tenant, 'doctor.released', { allocations: rows }, null);
        }
      });
      return;
    case 'stale-folder':
      return rm(path.join(ctx.config.customersDir, finding.tenant), { recursive: true, force: true });
    case 'stuck': {
      // Only while nobody works on it: take the lock for the repair itself.
      const release = await registry.tryLock(finding.tenant);
      if (!release) throw new TenantctlError('conflict', `${finding.tenant} is being changed by another tenantctl process now`);
      try {
        await removeContainersAndNetworks();
        await registry.markFailed(finding.tenant, 'interrupted; recorded as failed by tenantctl doctor --fix');
      } finally {
        await release();
      }
      return;
    }
    default:
      throw new TenantctlError('internal', `doctor cannot fix ${finding.kind}`);
  }
}
