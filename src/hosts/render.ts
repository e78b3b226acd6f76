import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { HostAddResult, HostListResult, HostRemoveResult, HostStateResult } from './commands.js';
import { formatMemory } from './memory.js';
import type { MoveResult } from './move.js';

// Human renderings of `hosts add|list|drain|activate|remove`; --json prints the data.

export function renderHostAdded(r: HostAddResult): string {
  return `${chalk.green('✓')} Docker host ${r.host.name} added (${r.host.endpoint}, ${r.host.kind}${r.host.tls ? ', TLS' : ''}${r.host.publishAddress ? `, publishes on ${r.host.publishAddress}` : ''}): engine ${r.engineVersion}, ${r.cpus} CPUs, ${formatMemory(r.memoryBytes)}`;
}

export function renderHosts(r: HostListResult): string {
  const rows = r.hosts.map((h) => [
    h.current ? `${h.name} *` : h.name,
    h.endpoint ?? '-',
    h.kind,
    h.state === 'active' ? h.state : chalk.yellow(h.state),
    h.reachable === true ? chalk.green('yes') : h.reachable === false ? chalk.red('no') : '-',
    h.engineVersion ?? '-',
    String(h.tenants),
    h.cpus === undefined ? '-' : `${h.usage ? `${h.usage.cpuPercent}% of ` : ''}${h.cpus}`,
    h.memoryBytes === undefined ? '-' : `${h.usage ? `${formatMemory(h.usage.memoryBytes)} / ` : ''}${formatMemory(h.memoryBytes)}`,
    h.freeMemoryBytes === undefined ? '-' : formatMemory(h.freeMemoryBytes),
  ]);
  const problems = r.hosts.filter((h) => h.reachable === false).map((h) => `  ${chalk.red('✗')} ${h.name}: ${h.error}`);
  return [
    table(['HOST', 'ENDPOINT', 'KIND', 'STATE', 'REACHABLE', 'ENGINE', 'TENANTS', 'CPU (USE OF)', 'MEMORY (USE / TOTAL)', 'NOT PROMISED'], rows),
    ...problems,
    chalk.dim(`* this environment's host (DOCKER_HOST, TENANTCTL_HOST_ID); asked in ${(r.durationMs / 1000).toFixed(1)} s`),
  ].join('\n');
}

export function renderHostState(r: HostStateResult): string {
  const what = r.state === 'draining' ? 'draining: no new tenants are placed there' : 'active: it takes new tenants again';
  return `${chalk.green('✓')} Docker host ${r.name} is ${what}${r.changed ? '' : ' (it already was)'}; ${r.tenants} tenant(s) on it`;
}

export function renderHostRemoved(r: HostRemoveResult): string {
  return `${chalk.green('✓')} Docker host ${r.name} removed from the fleet${r.outcome === 'retired' ? ' (kept on record as removed: deprovisioned tenants\' rows name it)' : ''}; its engine was not touched`;
}

export function renderMove(r: MoveResult): string {
  if (r.outcome === 'already-there') return `${chalk.green('✓')} ${r.id} is already on Docker host ${r.to}`;
  return `${chalk.green('✓')} ${r.id} moved from ${r.from} to ${r.to}: ${r.url ?? ''}  (${(r.durationMs / 1000).toFixed(1)} s, backup ${r.backup})`;
}
