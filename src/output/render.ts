import chalk from 'chalk';
import path from 'node:path';
import type { ProvisionResult } from '../commands/provision.js';
import type { DeprovisionResult } from '../commands/deprovision.js';
import type { StatusResult } from '../commands/status.js';
import type { TenantRecord } from '../db/registry.js';
import { table } from './table.js';

// Human renderings of what commands return. --json prints the same data as JSON instead.

const rel = (p: string) => path.relative(process.cwd(), p) || '.';
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function renderProvision(r: ProvisionResult): string {
  if (r.outcome === 'planned') {
    return [
      `Plan for ${r.id} (${r.name}, ${r.plan}) — dry run: nothing was created or reserved`,
      `  project  ${r.project}`,
      `  ports    app ${r.ports.app}, db ${r.ports.db}, redis ${r.ports.redis} (free now, not reserved)`,
      `  subnet   ${r.subnet} (first block of the pool; the registry may assign another)`,
      `  files    ${rel(r.directory)}/`,
      `  url      ${r.url}`,
      '',
      `# ${rel(path.join(r.directory, 'docker-compose.yml'))}`,
      r.rendered ?? '',
    ].join('\n');
  }
  const head = r.outcome === 'already-active'
    ? `${chalk.green('✓')} ${r.id} is already active: ${chalk.bold(r.url)}`
    : `${chalk.green('✓')} ${r.id} is active: ${chalk.bold(r.url)}  (${seconds(r.durationMs)})`;
  const lines = [
    head,
    `  project  ${r.project}`,
    `  ports    app ${r.ports.app}, db ${r.ports.db}, redis ${r.ports.redis}`,
    `  subnet   ${r.subnet}`,
    `  files    ${rel(r.directory)}/ (see CUSTOMER_MANIFEST.md)`,
  ];
  if (r.secrets) {
    lines.push('  secrets  (shown because of --show-secrets)');
    for (const [key, value] of Object.entries(r.secrets)) lines.push(`    ${key}=${value}`);
  }
  return lines.join('\n');
}

export function renderDeprovision(r: DeprovisionResult): string {
  const what = `${r.removed.containers} containers, ${r.removed.networks} networks, ${r.removed.volumes} volumes`;
  if (r.outcome === 'already-deprovisioned') return `${chalk.green('✓')} ${r.id} was already deprovisioned (removed now: ${what})`;
  const kept = r.keptData ? `; kept data volumes ${r.removed.keptVolumes.join(', ') || '(none)'} and customers/${r.id}/` : '';
  return `${chalk.green('✓')} ${r.id} deprovisioned: removed ${what}${kept}`;
}

const statusColour = (status: string) =>
  status === 'active' ? chalk.green(status) : status === 'failed' ? chalk.red(status) : chalk.yellow(status);

export function renderList(rows: TenantRecord[]): string {
  if (rows.length === 0) return 'No tenants. Create one with: tenantctl provision <id> --name "<name>"';
  return table(
    ['ID', 'NAME', 'STATUS', 'URL', 'PORTS (app/db/redis)', 'UPDATED'],
    rows.map((r) => [r.id, r.name, statusColour(r.status), r.appUrl ?? '-', r.ports.app ? `${r.ports.app}/${r.ports.db}/${r.ports.redis}` : '-', r.updatedAt.slice(0, 19).replace('T', ' ')]),
  );
}

export function renderStatus(s: StatusResult): string {
  const t = s.tenant;
  const lines = [
    `${t.id} (${t.name}, ${t.plan}): ${statusColour(t.status)}${t.statusReason ? ` — ${t.statusReason}` : ''}; containers ${s.live}`,
    `  url      ${t.appUrl ?? '-'}`,
    `  project  ${t.composeProject}`,
    `  ports    app ${t.ports.app ?? '-'}, db ${t.ports.db ?? '-'}, redis ${t.ports.redis ?? '-'}`,
    `  subnet   ${t.subnet ?? '-'}`,
  ];
  if (s.services.length > 0) {
    lines.push('', table(['SERVICE', 'STATE', 'HEALTH', 'CONTAINER'], s.services.map((x) => [x.service, x.state, x.health, x.container])));
  }
  return lines.join('\n');
}
