import type { Command } from 'commander';

// Every command tenantctl has, in the order `tenantctl --help` lists them. Only the summary is
// loaded up front; a command's flags, help and action are defined by its own module, imported
// when that command (or its help) is asked for, so start-up does not grow with the command count.

export interface CommandEntry {
  name: string;
  summary: string;
  /** Defines the command's arguments, options, help text and action on `command`. */
  load: () => Promise<{ define: (command: Command) => void }>;
}

export const commandTable: readonly CommandEntry[] = [
  { name: 'provision', summary: 'create tenants\' stacks, wait until they are healthy, apply their schema and record them', load: () => import('./commands/provision.js') },
  { name: 'deprovision', summary: 'remove tenants\' containers, network, volumes and files, and mark them deprovisioned', load: () => import('./commands/deprovision.js') },
  { name: 'list', summary: 'list tenants on record (deprovisioned ones only with --all)', load: () => import('./commands/list.js') },
  { name: 'status', summary: 'show one tenant: record, URL, ports, and each service\'s live state and health', load: () => import('./commands/status.js') },
  { name: 'stop', summary: 'stop tenants\' containers, keeping them, their data and ports (recorded as stopped)', load: () => import('./commands/stop.js') },
  { name: 'start', summary: 'start stopped tenants\' containers and wait until they are ready', load: () => import('./commands/start.js') },
  { name: 'restart', summary: 'restart tenants\' containers (all, or --service) and wait until they are ready', load: () => import('./commands/restart.js') },
  { name: 'suspend', summary: 'suspend a tenant (--reason): its stack stopped, the door answers a page and 401s naming the suspension; data, keys and allocations kept', load: () => import('./commands/suspend.js') },
  { name: 'resume', summary: 'resume a suspended tenant: start its stack, wait until it is ready, then serve it again', load: () => import('./commands/resume.js') },
  { name: 'suspended', summary: 'list suspended tenants: days suspended, and when the policy would deprovision them (--due)', load: () => import('./commands/suspended.js') },
  { name: 'logs', summary: 'stream a tenant\'s logs (--follow, --since, --tail, --service)', load: () => import('./commands/logs.js') },
  { name: 'exec', summary: 'run a command in one of a tenant\'s containers; its exit code is tenantctl\'s', load: () => import('./commands/exec.js') },
  { name: 'psql', summary: 'open psql on a tenant\'s database (interactive, or piped SQL)', load: () => import('./commands/psql.js') },
  { name: 'redis-cli', summary: 'open redis-cli on a tenant\'s Redis (interactive, or piped)', load: () => import('./commands/redis-cli.js') },
  { name: 'stats', summary: 'CPU, memory, network and disk I/O per tenant and per service, from one docker stats call', load: () => import('./commands/stats.js') },
  { name: 'quota', summary: 'tenants whose volumes hold more than their plan\'s disk quota (plans.<plan>.diskQuota), one measurement per host', load: () => import('./commands/quota.js') },
  { name: 'backup', summary: 'back tenants up while they run: a snapshot of each piece of their state (PostgreSQL, Redis, SQLite, volumes), a manifest with SHA-256 (--all, --keep N)', load: () => import('./commands/backup.js') },
  { name: 'backups', summary: 'list backups on record, newest first, with their state (running, stale, succeeded, failed)', load: () => import('./commands/backups.js') },
  { name: 'repository', summary: 'the backup repository (restic, backups.repository): init (its password sealed), status (snapshots, size), check', load: () => import('./commands/repository.js') },
  { name: 'restore', summary: 'restore a tenant from a verified backup, in place or --as a new tenant, and wait until it is ready', load: () => import('./commands/restore.js') },
  { name: 'clone', summary: 'a new tenant with a copy of a running tenant\'s data (a fresh backup restored --as the new id; its own passwords and keys)', load: () => import('./commands/clone.js') },
  { name: 'migrate', summary: 'apply new migrations of tenants\' templates to their databases, with checksums (--all, --dry-run)', load: () => import('./commands/migrate.js') },
  { name: 'upgrade', summary: 're-render and bring up tenants with new images, template or plan; roll back to the last good state if not ready (canary first)', load: () => import('./commands/upgrade.js') },
  { name: 'secrets', summary: 'show a tenant\'s passwords, decrypted with the master key (the view is audited)', load: () => import('./commands/secrets.js') },
  { name: 'rotate-secrets', summary: 'replace a tenant\'s passwords where they live (ALTER ROLE, Redis), recreate what reads them, prove readiness; roll back on failure', load: () => import('./commands/rotate-secrets.js') },
  { name: 'modules', summary: 'feature modules: the catalogue with prices, and which ones a tenant has', load: () => import('./commands/modules.js') },
  { name: 'keys', summary: 'API keys for a tenant\'s API: create (shown once), list, revoke', load: () => import('./commands/keys.js') },
  { name: 'frontdoor', summary: 'the front door: nginx routing https://<id>.<domain> to tenants, TLS, API keys checked at the door, ACME certificates (init, status, reload, renew, down)', load: () => import('./commands/frontdoor.js') },
  { name: 'domains', summary: 'custom domains routed to a tenant by the front door: add, remove, list', load: () => import('./commands/domains.js') },
  { name: 'hosts', summary: 'the fleet of Docker hosts tenants are placed on: add, list (reachable, capacity, use), drain, activate, remove', load: () => import('./commands/hosts.js') },
  { name: 'move', summary: 'move a tenant to another Docker host: backup, restore there, wait until ready, switch the front door, remove the source', load: () => import('./commands/move.js') },
  { name: 'templates', summary: 'the stacks tenantctl provisions: list, show <name>, validate <file-or-dir> (offline: the x-tenantctl block and a sample render)', load: () => import('./commands/templates.js') },
  { name: 'operations', summary: 'the operation journal: unfinished multi-step verbs (in flight, or interrupted and settled by the next command), --all for history; abandon <id>', load: () => import('./commands/operations.js') },
  { name: 'agent', summary: 'the agent of this Docker host: scheduled backups, retention and doctor reports, one leader per host (up, down, status, logs)', load: () => import('./commands/agent.js') },
  { name: 'schedules', summary: 'what the agents run and when: each schedule\'s next run, last run, outcome and last error (list)', load: () => import('./commands/schedules.js') },
  { name: 'admin-backup', summary: 'dump the admin database (registry, sealed secrets, keys, usage, audit, settings) into the backup repository as a restic snapshot tagged kind=admin; never the master key', load: () => import('./commands/admin-backup.js') },
  { name: 'recover', summary: 'on a new machine: restore the newest admin snapshot from the repository, check the master key, bring every tenant back from its newest backup, proven ready, and the front door', load: () => import('./commands/recover.js') },
  { name: 'doctor', summary: 'compare the registry, allocations, customers/ and Docker; list each discrepancy with its fix (--fix repairs the safe ones)', load: () => import('./commands/doctor.js') },
  { name: 'watch', summary: 'look at every active tenant of the host: record transitions as events, raise alerts, send deliveries, auto-restart (--once, or until Ctrl-C)', load: () => import('./commands/watch.js') },
  { name: 'events', summary: 'what the watch saw: tenants degraded, down, recovered, restarted; hosts unreachable (--since)', load: () => import('./commands/events.js') },
  { name: 'alerts', summary: 'webhook endpoints for events (HMAC-signed, retried with backoff): add, list, remove, test, deliveries', load: () => import('./commands/alerts.js') },
  { name: 'metrics', summary: 'Prometheus exposition: print once, or --serve /metrics on loopback', load: () => import('./commands/metrics.js') },
  { name: 'audit', summary: 'show the audit log, newest first: who changed what (old and new values), for all tenants or one', load: () => import('./commands/audit.js') },
];

/** Global options that take a value: the word after them is that value, not a command name. */
const globalOptionsWithValue = new Set(['-c', '--config']);

/**
 * The command argv names (or asks help for: `help provision`), if any: the first word that is not
 * a global option or a global option's value.
 */
export function invokedCommand(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (globalOptionsWithValue.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    if (arg === 'help') return args[i + 1];
    return arg;
  }
  return undefined;
}
