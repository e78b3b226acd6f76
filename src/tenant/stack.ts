import { existsSync } from 'node:fs';
import { TenantctlError } from '../errors.js';
import type { Context } from '../context.js';
import { objectsByLabel, removeObjects, type LabelledObjects } from '../compose/docker.js';
import { removeTenantFiles, type TenantPaths } from './files.js';

export interface RemovalReport {
  containers: number;
  networks: number;
  volumes: number;
  keptVolumes: string[];
  filesRemoved: boolean;
}

export const projectLabel = (project: string) => `com.docker.compose.project=${project}`;

/**
 * Removes a tenant's stack and proves it is gone: compose down first (the orderly way), then
 * whatever still carries the project's label is removed directly (a crashed run can leave objects
 * compose no longer knows about), then Docker is asked again. Runs without the command's abort
 * signal: a rollback must finish even after Ctrl-C.
 */
export async function removeStack(
  ctx: Context,
  { project, paths, keepData }: { project: string; paths: TenantPaths; keepData: boolean },
): Promise<RemovalReport> {
  const label = projectLabel(project);
  const before = await objectsByLabel(label);
  if (existsSync(paths.composeFile) && existsSync(paths.envFile)) {
    const compose = await ctx.compose();
    await compose
      .down({ project, file: paths.composeFile, envFile: paths.envFile }, { removeVolumes: !keepData, timeoutMs: 120_000, onProgress: ctx.reporter.detail })
      .catch((error) => ctx.reporter.info(`compose down reported: ${(error as Error).message}; removing by label instead`));
  }
  await removeObjects(await objectsByLabel(label), { volumes: !keepData });

  const after = await objectsByLabel(label);
  const left = describeLeftovers(after, keepData);
  if (left) throw new TenantctlError('docker', `could not remove everything of ${project}: ${left} still present`);
  if (!keepData) await removeTenantFiles(paths);
  return {
    containers: before.containers.length,
    networks: before.networks.length,
    volumes: keepData ? 0 : before.volumes.length,
    keptVolumes: keepData ? after.volumes : [],
    filesRemoved: !keepData,
  };
}

function describeLeftovers(objects: LabelledObjects, keepData: boolean): string {
  const parts: string[] = [];
  if (objects.containers.length) parts.push(`containers ${objects.containers.join(' ')}`);
  if (objects.networks.length) parts.push(`networks ${objects.networks.join(' ')}`);
  if (!keepData && objects.volumes.length) parts.push(`volumes ${objects.volumes.join(' ')}`);
  return parts.join(', ');
}
