import chalk from 'chalk';
import path from 'node:path';
import type { ProvisionResult } from './provision.js';
import type { DeprovisionResult } from './deprovision.js';
import type { ProvisionBatchResult } from './provision-batch.js';
import type { DeprovisionBatchResult } from './deprovision-batch.js';
import type { StatusResult } from './status.js';
import type { ListedTenant } from './list.js';
import { table } from '../common/text-table.js';

// Human renderings of what commands return. --json prints the same data as JSON instead.

const rel = (p: string) => path.relative(process.cwd(), p) || '.';
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** "app 3001, db 5434, redis 6380": a template's ports by name. */
const namedPorts = (ports: Record<string, number | null>) => Object.entries(ports).map(([name, port]) => `${name} ${port ?? '-'}`).join(', ') || '-';
const templateLine = (template: string, profiles: string[]) => `  template ${template}${profiles.length > 0 ? ` (with ${profiles.join(', ')})` : ''}`;

export function renderProvision(r: ProvisionResult): string {
  if (r.outcome === 'planned') {
    return [
      `Plan for ${r.id} (${r.name}, ${r.plan}) — dry run: nothing was created or reserved`,
      `  project  ${r.project}`,
      templateLine(r.template, r.profiles),
      `  ports    ${namedPorts(r.ports)} (free now, not reserved)`,
      `  subnet   ${r.subnet} (first block of the pool; the registry may assign another)`,
      `  files    ${rel(r.directory)}/`,
      `  url      ${r.url ?? '(none: the template has no front door port)'}`,
      '',
      `# ${rel(path.join(r.directory, 'docker-compose.yml'))}`,
      r.rendered ?? '',
    ].join('\n');
  }
  const head = r.outcome === 'already-active'
    ? `${chalk.green('✓')} ${r.id} is already active: ${chalk.bold(r.url ?? '(no URL)')}`
    : `${chalk.green('✓')} ${r.id} is active: ${chalk.bold(r.url ?? '(no URL)')}  (${seconds(r.durationMs)})`;
  const lines = [
    head,
    `  project  ${r.project}`,
    `  host     ${r.host}`,
    ...(r.template === 'crm' && r.profiles.length === 0 ? [] : [templateLine(r.template, r.profiles)]),
    `  ports    ${namedPorts(r.ports)}`,
    `  subnet   ${r.subnet}`,
    `  files    ${rel(r.directory)}/ (see CUSTOMER_MANIFEST.md)`,
  ];
  if (r.initialApiKey) lines.push(`  api key  ${r.initialApiKey.key}  (shown once: store it now; the admin database keeps only its hash)`);
  if (r.secrets) {
    lines.push('  secrets  (shown because of --show-secrets)');
    for (const [key, value] of Object.entries(r.secrets)) lines.push(`    ${key}=${value}`);
  }
  if (r.secretsWarning) lines.push(`  ${chalk.yellow('warning')}  ${r.secretsWarning}`);
  return lines.join('\n');
}

export function renderDeprovision(r: DeprovisionResult): string {
  const what = `${r.removed.containers} containers, ${r.removed.networks} networks, ${r.removed.volumes} volumes`;
  if (r.outcome === 'already-deprovisioned') return `${chalk.green('✓')} ${r.id} was already deprovisioned (removed now: ${what})`;
  const kept = r.keptData ? `; kept data volumes ${r.removed.keptVolumes.join(', ') || '(none)'} and customers/${r.id}/` : '';
  return `${chalk.green('✓')} ${r.id} deprovisioned: removed ${what}${kept}`;
}

const statusColour = (status: string) =>
  status === 'active' ? chalk.green(status) : status === 'failed' ? chalk.red(status) : status === 'suspended' ? chalk.magenta(status) : chalk.yellow(status);

// Drift in red: an active tenant whose containers do not all run, or a stopped or suspended one whose containers do.
const liveColour = (live: string, status: string) =>
  live === 'running' ? (status === 'stopped' || status === 'suspended' ? chalk.red(live) : chalk.green(live)) : status === 'active' ? chalk.red(live) : chalk.dim(live);
/** "suspended (unpaid invoice)": a suspended tenant's status says why, in list and status. */
const statusWithReason = (t: Pick<ListedTenant, 'status' | 'suspension'>) => `${statusColour(t.status)}${t.suspension ? ` (${t.suspension.reason})` : ''}`;

export function renderList(rows: ListedTenant[]): string {
  if (rows.length === 0) return 'No tenants. Create one with: tenantctl provision <id> --name "<name>"';
  return table(
    ['ID', 'NAME', 'HOST', 'TEMPLATE', 'STATUS', 'LIVE', 'URL', 'PORTS', 'UPDATED'],
    rows.map((r) => [
      r.id, r.name, r.host, r.profiles.length > 0 ? `${r.template}+${r.profiles.join('+')}` : r.template, statusWithReason(r), liveColour(r.live, r.status), r.doorUrl ?? r.appUrl ?? '-',
      Object.keys(r.namedPorts).length > 0 ? namedPorts(r.namedPorts) : '-', r.updatedAt.slice(0, 19).replace('T', ' '),
    ]),
  );
}

export function renderStatus(s: StatusResult): string {
  const t = s.tenant;
  const lines = [
    `${t.id} (${t.name}, ${t.plan}): ${statusColour(t.status)}${t.statusReason ? ` — ${t.statusReason}` : ''}; containers ${s.live}`,
    `  url      ${t.appUrl ?? '-'}`,
    `  project  ${t.composeProject}`,
    templateLine(t.template, t.profiles),
    `  ports    ${namedPorts(Object.keys(s.ports).length > 0 ? s.ports : t.ports)}`,
    `  subnet   ${t.subnet ?? '-'}`,
  ];
  if (t.suspension) lines.push(`  ${chalk.magenta('suspended')} since ${t.suspension.at} by ${t.suspension.by}: ${t.suspension.reason} (tenantctl resume ${t.id})`);
  if (s.operation) lines.push(`  ${chalk.yellow('pending')}  ${s.operation.verb} at step ${s.operation.step}, since ${s.operation.startedAt} by ${s.operation.actor} (the next command on ${t.id} settles it)`);
  if (s.services.length > 0) {
    lines.push('', table(['SERVICE', 'STATE', 'HEALTH', 'CONTAINER'], s.services.map((x) => [x.service, x.state, x.health, x.container])));
  }
  return lines.join('\n');
}

type BatchRow = { id: string; ok: boolean; result?: unknown; error?: { message: string } };

function renderBatch(items: BatchRow[], describe: (result: any) => string, summary: string): string {
  const rows = items.map((i) => [i.id, i.ok ? chalk.green('ok') : chalk.red('failed'), i.ok ? describe(i.result) : i.error!.message]);
  return `${table(['TENANT', 'RESULT', 'DETAIL'], rows)}\n\n${summary}`;
}

export function renderProvisionBatch(r: ProvisionBatchResult): string {
  const s = r.summary;
  const keys = r.tenants.flatMap((t) => (t.ok && t.result.initialApiKey ? [`  ${t.id}  ${t.result.initialApiKey.key}`] : []));
  const keyNote = keys.length > 0 ? `\n\nInitial API keys (shown once: store them now):\n${keys.join('\n')}` : '';
  return renderBatch(
    r.tenants,
    (result: ProvisionResult) => `${result.outcome === 'already-active' ? 'already active' : 'active'}  ${result.url ?? '-'}  ports ${Object.values(result.ports).join('/')}  ${result.subnet}`,
    `${s.total} tenants: ${s.active} provisioned, ${s.alreadyActive} already active, ${s.failed} failed (${seconds(s.durationMs)})`,
  ) + keyNote;
}

export function renderDeprovisionBatch(r: DeprovisionBatchResult): string {
  const s = r.summary;
  return renderBatch(
    r.tenants,
    (result: DeprovisionResult) => `${result.outcome}  ${result.removed.containers} containers, ${result.removed.networks} networks, ${result.removed.volumes} volumes`,
    `${s.total} tenants: ${s.deprovisioned} deprovisioned, ${s.failed} failed (${seconds(s.durationMs)})`,
  );
}
