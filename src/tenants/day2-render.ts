import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { LifecycleBatchResult, LifecycleResult } from './lifecycle.js';
import type { StatsResult, Usage } from './stats.js';
import { humanBytes } from '../common/human-bytes.js';

// Human renderings of stop, start, restart and stats. --json prints the same data as JSON.

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function renderLifecycle(r: LifecycleResult): string {
  switch (r.outcome) {
    case 'stopped': return `${chalk.green('✓')} ${r.id} stopped (containers, data and ports kept; tenantctl start ${r.id} brings it back)  (${seconds(r.durationMs)})`;
    case 'already-stopped': return `${chalk.green('✓')} ${r.id} was already stopped`;
    case 'started': return `${chalk.green('✓')} ${r.id} is running and ready: ${chalk.bold(r.url ?? '-')}  (${seconds(r.durationMs)})`;
    case 'already-running': return `${chalk.green('✓')} ${r.id} was already running and is ready: ${chalk.bold(r.url ?? '-')}`;
    case 'restarted': return `${chalk.green('✓')} ${r.id}: restarted ${r.services.join(', ')}; ready  (${seconds(r.durationMs)})`;
  }
}

export function renderLifecycleBatch(r: LifecycleBatchResult): string {
  const rows = r.tenants.map((i) => [i.id, i.ok ? chalk.green(i.result.outcome) : chalk.red('failed'), i.ok ? seconds(i.result.durationMs) : i.error.message]);
  const s = r.summary;
  return `${table(['TENANT', 'RESULT', 'DETAIL'], rows)}\n\n${s.total} tenants: ${s.ok} done, ${s.failed} failed (${seconds(s.durationMs)})`;
}

const cells = (u: Usage) => [
  `${u.cpuPercent.toFixed(2)}%`,
  `${humanBytes(u.memory.usedBytes)} / ${u.memory.limitBytes > 0 ? humanBytes(u.memory.limitBytes) : '-'}`,
  `${u.memory.percent.toFixed(1)}%`,
  `${humanBytes(u.network.rxBytes)} / ${humanBytes(u.network.txBytes)}`,
  `${humanBytes(u.blockIo.readBytes)} / ${humanBytes(u.blockIo.writeBytes)}`,
  String(u.pids),
];

export function renderStats(r: StatsResult): string {
  const unreachable = (r.unreachable ?? []).map((why) => chalk.yellow(`node not asked or not answering: ${why}`));
  if (unreachable.length) return [renderStatsTable(r), ...unreachable].join('\n');
  return renderStatsTable(r);
}

function renderStatsTable(r: StatsResult): string {
  if (r.tenants.length === 0) return 'No tenants with containers on this host.';
  const rows: string[][] = [];
  for (const t of r.tenants) {
    rows.push([chalk.bold(t.id), chalk.bold('total'), t.status, ...cells(t.total).map((c) => chalk.bold(c))]);
    if (t.services.length === 0) rows.push(['', chalk.dim('(no containers)'), '', '', '', '', '', '', '']);
    for (const s of t.services) rows.push(['', s.service, s.state === 'running' ? s.state : chalk.yellow(s.state), ...cells(s)]);
  }
  return table(['TENANT', 'SERVICE', 'STATE', 'CPU', 'MEM USED / LIMIT', 'MEM %', 'NET RX / TX', 'BLOCK R / W', 'PIDS'], rows);
}
