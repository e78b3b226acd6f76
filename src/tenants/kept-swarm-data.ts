import path from 'node:path';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import type { KeptVolumes } from '../swarm/swarm-stack.js';
import type { TenantPaths } from './files.js';

// Where a swarm tenant's kept data is (deprovision --keep-data): its volumes stay on the node its
// stack ran on, and a swarm forgets a removed stack's placement. So the node (its id and hostname)
// and the volumes are recorded beside the tenant's other kept files, customers/<id>/kept-data.json,
// and provision requires them there: a node that left the swarm, is down, or lost a volume is
// refused (exit 5) instead of the stack starting on empty volumes elsewhere, unless the operator
// asks for fresh data (provision --fresh-data).

const fileOf = (paths: TenantPaths) => path.join(paths.dir, 'kept-data.json');

/** Records where the kept volumes are; nothing when the tenant has no folder (no row's data: left-over volumes kept as they are). */
export async function recordKeptSwarmData(paths: TenantPaths, kept: readonly KeptVolumes[]): Promise<void> {
  try {
    await writeFile(fileOf(paths), `${JSON.stringify({ format: 1, nodes: kept }, null, 2)}\n`, { mode: 0o644 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export async function forgetKeptSwarmData(paths: TenantPaths): Promise<void> {
  await rm(fileOf(paths), { force: true });
}

async function readKept(paths: TenantPaths): Promise<KeptVolumes[] | undefined> {
  let text: string;
  try {
    text = await readFile(fileOf(paths), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as { nodes?: KeptVolumes[] };
  return Array.isArray(parsed.nodes) ? parsed.nodes : undefined;
}

/**
 * Before a swarm tenant with kept data is provisioned again: its recorded volumes must be on their
 * recorded node, ready (only that node is asked). With `fresh`, the kept data is given up instead:
 * allowed only when its volumes cannot be reached (else deprovision without --keep-data first, so
 * nothing is silently reused with new passwords). Returns whether the kept data is used.
 */
export async function requireKeptSwarmData(ctx: Context, id: string, project: string, paths: TenantPaths, fresh: boolean): Promise<boolean> {
  const kept = await readKept(paths);
  const { keptVolumesOn } = await import('../swarm/swarm-stack.js');
  let problem: TenantctlError | undefined;
  if (!kept || kept.length !== 1) {
    problem = new TenantctlError('conflict', `the kept data of ${id} has no record of its node (${fileOf(paths)} is ${kept ? 'for several nodes' : 'missing'}): provision with --fresh-data to start on empty volumes, or restore a backup`);
  } else {
    try {
      const { node, missing } = await keptVolumesOn(ctx.dockerHost, project, kept[0]!, ctx.signal);
      if (missing.length > 0) problem = new TenantctlError('conflict', `the kept data of ${id} is incomplete on node ${node.hostname}: ${missing.join(', ')} missing; provision with --fresh-data to start on empty volumes, or restore a backup`);
    } catch (error) {
      if (!(error instanceof TenantctlError && error.kind === 'conflict')) throw error;
      problem = error;
    }
  }
  if (!problem) {
    if (fresh) throw new TenantctlError('conflict', `the kept data of ${id} is on node ${kept![0]!.node}, reachable: --fresh-data would start over it; deprovision ${id} without --keep-data first to give it up`);
    return true;
  }
  if (!fresh) throw problem;
  ctx.reporter.info(`giving up the kept data of ${id} (--fresh-data): ${problem.message}`);
  return false;
}
