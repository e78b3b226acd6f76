import type { Context } from '../context.js';
import { removeStack, type RemovalReport } from '../stack/removal.js';
import { removeTenantFiles, type TenantPaths } from './files.js';
import { recordKeptSwarmData } from './kept-swarm-data.js';

export type TenantRemovalReport = RemovalReport & { filesRemoved: boolean };

/**
 * Removes a tenant's stack from its Docker host (proved gone by label), then its customers/<id>/
 * folder, unless its data is kept: its secrets/ holds the passwords the kept volumes need.
 */
export async function removeTenantStack(ctx: Context, { project, paths, keepData }: { project: string; paths: TenantPaths; keepData: boolean }): Promise<TenantRemovalReport> {
  const report = await removeStack(ctx.dockerHost, { project, file: paths.composeFile, envFile: paths.envFile }, {
    keepData,
    onProgress: ctx.reporter.detail,
    onComposeFailure: ctx.reporter.info,
  });
  const { keptOn, ...removed } = report;
  // Where a swarm stack's kept volumes are: provision requires them there (kept-swarm-data.ts).
  if (keepData && keptOn && keptOn.length > 0) await recordKeptSwarmData(paths, keptOn);
  if (!keepData) await removeTenantFiles(paths);
  return { ...removed, filesRemoved: !keepData };
}
