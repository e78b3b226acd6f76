import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { DomainChange, DomainsListResult, FrontdoorInitResult, FrontdoorStatus } from './commands.js';
import type { RouteSummary, SyncResult } from './sync.js';
import type { IssueOutcome } from './acme/issue.js';
import type { RenewResult } from './acme/renew.js';
import type { AcmeCertificateStatus } from './acme/status.js';

// Human renderings of `frontdoor` and `domains`; --json prints the data.

const day = (iso: string) => iso.slice(0, 10);

function routesTable(routes: RouteSummary[]): string {
  if (routes.length === 0) return '  no tenants to serve yet';
  return table(['TENANT', 'SERVING', 'URL', 'ALSO'], routes.map((r) => [
    r.tenant,
    r.serving === 'route' ? chalk.green('app') : chalk.yellow(`503 (${r.status})`),
    r.url,
    r.hostnames.slice(1).join(', '),
  ])).split('\n').map((l) => `  ${l}`).join('\n');
}

export function renderInit(r: FrontdoorInitResult): string {
  return [
    `${chalk.green('✓')} front door running (project ${r.project}, generation ${r.generation}, ${(r.durationMs / 1000).toFixed(1)} s)`,
    `  listens   http ${r.listen.http}, https ${r.listen.https}`,
    `  tenants   https://<id>.${r.baseDomain}`,
    `  tls       ${r.tls.mode}: ${r.tls.certificate.names.join(', ')}, expires ${day(r.tls.certificate.notAfter)}`,
    ...(r.tls.caFile ? [`  ca        ${r.tls.caFile}  (curl --cacert it, or trust it)`] : []),
    ...(r.acme ? [`  acme      ${r.acme.directory}, account ${r.acme.account}`, ...issueLines(r.acme.certificates)] : []),
    routesTable(r.routes),
  ].join('\n');
}

export function renderStatus(s: FrontdoorStatus): string {
  if (!s.initialized) return `The front door is not set up here. Start it with: tenantctl frontdoor init --self-signed`;
  const lines = [
    `${s.healthy ? chalk.green('✓ healthy') : chalk.red('✗ not healthy')}  project ${s.project}, https://<id>.${s.baseDomain}, listening on http ${s.listen?.http}, https ${s.listen?.https}`,
    `  containers  ${s.containers.map((c) => `${c.service} ${c.status === 'running' ? chalk.green(c.status) : chalk.red(c.status)}`).join(', ') || chalk.red('none')}`,
    `  generation  live ${s.generation.live}, served ${s.generation.served ?? chalk.red('none')}`,
    ...(s.lastSync ? [`  last sync   ${s.lastSync.at.slice(0, 19).replace('T', ' ')} ${s.lastSync.ok ? chalk.green('ok') : chalk.red(`failed: ${s.lastSync.error}`)}`] : []),
    '  certificates',
    ...s.certificates.map((c) => `    ${c.role.padEnd(12)} expires ${day(c.notAfter)} (${c.daysLeft < 30 ? chalk.red(`${c.daysLeft} days`) : `${c.daysLeft} days`})  ${c.names.join(', ') || c.subject}`),
    ...(s.acme ? [`  acme        ${s.acme.directory}`, acmeTable(s.acme.certificates)] : []),
    routesTable(s.routes),
    ...s.problems.map((p) => chalk.red(`  ! ${p}`)),
  ];
  return lines.join('\n');
}

function issueLines(outcomes: IssueOutcome[]): string[] {
  return outcomes.map((o) => (o.ok ? `    ${chalk.green('✓')} ${o.hostname} until ${day(o.notAfter)}` : `    ${chalk.red('✗')} ${o.hostname}: ${o.error} (next attempt ${o.nextAttemptAt.slice(0, 16).replace('T', ' ')})`));
}

function acmeTable(certificates: AcmeCertificateStatus[]): string {
  if (certificates.length === 0) return '    no ACME certificates yet';
  return table(['HOST NAME', 'TENANT', 'DAYS LEFT', 'RENEWS', 'LAST ERROR'], certificates.map((c) => [
    c.hostname,
    c.tenant ?? '-',
    c.daysLeft === null ? chalk.red('none') : c.daysLeft < 10 ? chalk.red(String(c.daysLeft)) : String(c.daysLeft),
    c.renewAt ? c.renewAt.slice(0, 16).replace('T', ' ') : '-',
    c.lastError ? chalk.red(c.lastError) : '',
  ])).split('\n').map((l) => `    ${l}`).join('\n');
}

export function renderRenew(r: RenewResult): string {
  return [
    `${chalk.green('✓')} ${r.checked} certificate(s) checked: ${r.renewed.length} renewed, ${r.issued.length} issued, ${r.revoked.length} revoked, ${r.skipped.filter((x) => x.reason === 'not due').length} not due (${(r.durationMs / 1000).toFixed(1)} s)`,
    ...r.renewed.map((h) => `  renewed  ${h}`),
    ...r.issued.map((h) => `  issued   ${h}`),
    ...r.revoked.map((h) => `  revoked  ${h}`),
    ...r.failed.map((f) => chalk.red(`  failed   ${f.hostname}: ${f.error} (next attempt ${f.nextAttemptAt.slice(0, 16).replace('T', ' ')})`)),
    ...(r.sync ? [`  front door generation ${r.sync.generation}${r.sync.changed ? ' (reloaded once)' : ' (unchanged)'}`] : []),
  ].join('\n');
}

export function renderReload(r: SyncResult): string {
  const head = r.changed ? `${chalk.green('✓')} front door reloaded: generation ${r.generation} is live` : `${chalk.green('✓')} front door already up to date (generation ${r.generation})`;
  return `${head} (${r.durationMs} ms)\n${routesTable(r.routes)}`;
}

export function renderDown(r: { project: string; stopped: boolean }): string {
  return r.stopped ? `${chalk.green('✓')} front door stopped and removed (project ${r.project}); its certificates stay for the next init` : `The front door was not set up (project ${r.project}); nothing to do`;
}

export function renderDomainChange(r: DomainChange): string {
  const fd = r.frontdoor === 'not set up' ? 'front door not set up (tenantctl frontdoor init)' : r.frontdoor === 'not updated' ? chalk.yellow('front door not updated') : `front door generation ${r.frontdoor.generation}`;
  const revoked = r.revoked === undefined ? '' : r.revoked ? '\n  its certificate was revoked' : r.revocationError ? chalk.yellow(`\n  its certificate was not revoked: ${r.revocationError}`) : '';
  const warning = r.frontdoorWarning ? chalk.yellow(`\n  ${r.frontdoorWarning}`) : '';
  return `${chalk.green('✓')} ${r.domain} for ${r.customerId}: ${r.changed ? 'changed' : 'no change'}; ${fd}${r.changed ? `\n  ${r.url}  certificate: ${r.certificate}` : ''}${revoked}${warning}`;
}

export function renderDomains(r: DomainsListResult): string {
  if (r.domains.length === 0) return r.customerId ? `No custom domains for ${r.customerId}. Add one with: tenantctl domains add ${r.customerId} <domain>` : 'No custom domains.';
  return table(['DOMAIN', 'TENANT', 'URL', 'ADDED'], r.domains.map((d) => [d.domain, d.customerId, d.url, d.createdAt.slice(0, 19).replace('T', ' ')]));
}
