import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import type { DockerHost } from '../engine/docker-host.js';
import { currentContainers, inspectContainers, projectContainerIds, type ContainerState } from '../engine/docker.js';
import { checksumOf } from '../common/sql-migrations.js';
import { TenantctlError } from '../common/errors.js';

// What each tenant runs (admin_tenant_deployments): its template (name and checksum), the image of
// each service by tag and by id, its plan, and the rendered compose file. One row per good state,
// written when the tenant has just been made active and ready; the newest is the last good state,
// which an upgrade that does not become ready goes back to.

export interface DeployedImage {
  /** The reference in the compose file, e.g. tenantctl/app:latest. */
  tag: string;
  /** The image id the service's container runs (sha256:...): what a rollback pins. */
  id: string;
}

export interface Deployment {
  templateName: string;
  templateChecksum: string;
  plan: string;
  /** By service name. */
  images: Record<string, DeployedImage>;
  composeFile: string;
}

export interface DeploymentRecord extends Deployment {
  id: number;
  reason: DeploymentReason;
  composeChecksum: string;
  recordedBy: string;
  recordedAt: string;
}

export type DeploymentReason = 'provision' | 'upgrade' | 'rollback' | 'restore';

/**
 * The image (tag and id) each service's container of the project runs, from one `docker inspect`.
 * Taken from the containers, not the tags: a tag may point elsewhere by now.
 */
export async function runningImages(host: DockerHost, project: string, signal?: AbortSignal): Promise<Record<string, DeployedImage>> {
  // A container listed may be gone when inspected (a swarm removes a scaled-down task's): ask again.
  for (let attempt = 1; ; attempt++) {
    const states = await inspectContainers(host, await projectContainerIds(host, project, signal), signal);
    if (states) return imagesOf(currentContainers(states));
    if (attempt >= 3) throw new TenantctlError('docker', `the containers of ${project} kept changing while their images were read`);
  }
}

/** The deployment of a tenant whose stack is up: the template as it was rendered, and what its containers run. */
export async function describeDeployment(
  host: DockerHost,
  input: { project: string; templateName: string; templateChecksum: string; plan: string; composeFile: string; signal?: AbortSignal },
  /** The containers as readiness last saw them, when the caller has them: no second look. */
  containers?: ContainerState[],
): Promise<Deployment> {
  return {
    templateName: input.templateName,
    templateChecksum: input.templateChecksum,
    plan: input.plan,
    images: containers ? imagesOf(containers) : await runningImages(host, input.project, input.signal),
    composeFile: input.composeFile,
  };
}

function imagesOf(containers: ContainerState[]): Record<string, DeployedImage> {
  return Object.fromEntries(containers.filter((c) => c.service).map((c) => [c.service, { tag: c.image, id: c.imageId }]));
}

/** Records a good state, in the caller's transaction (the one that makes the tenant active). */
export async function recordDeployment(db: Pick<AdminDb, 'actor'>, client: pg.ClientBase, customerId: string, reason: DeploymentReason, deployment: Deployment): Promise<void> {
  await client.query(
    `INSERT INTO admin_tenant_deployments (customer_id, reason, template_name, template_checksum, plan, images, compose_file, compose_checksum, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [customerId, reason, deployment.templateName, deployment.templateChecksum, deployment.plan, JSON.stringify(deployment.images), deployment.composeFile, checksumOf(deployment.composeFile), db.actor],
  );
}

/** The tenant's last good state, if any was recorded. */
export async function lastDeployment(db: AdminDb, customerId: string): Promise<DeploymentRecord | undefined> {
  const { rows } = await db.pool.query('SELECT * FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC LIMIT 1', [customerId]).catch(db.unreachable);
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: Number(row.id),
    reason: row.reason,
    templateName: row.template_name,
    templateChecksum: row.template_checksum,
    plan: row.plan,
    images: row.images,
    composeFile: row.compose_file,
    composeChecksum: row.compose_checksum,
    recordedBy: row.recorded_by,
    recordedAt: (row.recorded_at as Date).toISOString(),
  };
}

/** The last good state, or a clear error naming why a rollback target is missing. */
export async function requireLastDeployment(db: AdminDb, customerId: string): Promise<DeploymentRecord> {
  const record = await lastDeployment(db, customerId);
  if (!record) throw new TenantctlError('conflict', `${customerId} has no recorded good state (it was provisioned before tenantctl recorded deployments); provision or upgrade it once to record one`);
  return record;
}
