import * as z from 'zod/mini';
import '../common/zod.js';
import { isIntervalSpec } from '../common/interval.js';

const text = () => z.string().check(z.minLength(1));
const port = z.int().check(z.gte(1), z.lte(65535));

export const portRangeSchema = z
  .object({ from: port, to: port })
  .check(z.refine((range) => range.from <= range.to, { message: 'from must not be greater than to' }));

const cidr = z.string().check(
  z.regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'must be an IPv4 CIDR such as 10.123.0.0/16'),
  // What the pattern lets through but no network can be: octets above 255, a prefix outside /8-/30.
  z.refine((value) => value.split('/')[0]!.split('.').every((octet) => Number(octet) <= 255), { message: 'has an address part above 255' }),
  z.refine((value) => { const prefix = Number(value.split('/')[1]); return prefix >= 8 && prefix <= 30; }, { message: 'must have a prefix from /8 to /30' }),
);

const hostname = z.string().check(
  z.regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS name such as tenants.example.com'),
);
/** A schedule's interval (src/common/interval.ts): "every 24h", "every 30m", "every 7d", or "off". */
const scheduleSpec = z.string().check(z.refine(isIntervalSpec, { message: 'must be "every <n>s|m|h|d" (60s at least), e.g. "every 24h", or "off"' }));

const planSettings = (pidsLimit: number) => z.strictObject({
  // Below 32 a PostgreSQL or Node container cannot start its own processes and threads.
  pidsLimit: z._default(z.int().check(z.gte(32), z.lte(65536)), pidsLimit),
  /** The watch (src/watch/) restarts a stack it finds down, with backoff; off by default. */
  autoRestart: z._default(z.boolean(), false),
  /**
   * The most its volumes may hold together ("10GiB", "500MiB", "1TB"; binary and decimal units):
   * measured, shown by `status` and reported over by tenantsOverQuota (src/quota/). Not enforced by
   * Docker: an over-quota tenant keeps running. None by default.
   */
  diskQuota: z.optional(z.string().check(z.regex(/^\s*\d+(\.\d+)?\s*(B|[KMGT]i?B)\s*$/i, 'must be a size such as 10GiB, 500MiB or 2TB'))),
  /** How often the agent backs up each active tenant of the plan on its host (off: never). */
  backupSchedule: z._default(scheduleSpec, 'off'),
  /** Retention: the agent keeps this many succeeded backups per tenant of the plan (unset: all). */
  backupKeep: z.optional(z.int().check(z.gte(1), z.lte(10_000))),
  /**
   * Retention in the backup repository (backups.repository): restic forget --keep-daily/weekly/monthly
   * over each tenant's own snapshots, applied by the agent's retention schedule; replaces backupKeep there.
   */
  backupRetention: z.optional(z.strictObject({
    daily: z.optional(z.int().check(z.gte(0), z.lte(10_000))),
    weekly: z.optional(z.int().check(z.gte(0), z.lte(10_000))),
    monthly: z.optional(z.int().check(z.gte(0), z.lte(10_000))),
  })),
  /**
   * Point-in-time recovery (src/pitr/): the tenant's PostgreSQL archives its WAL, tenantctl ships it
   * to the backup repository, and `backup` takes a physical base backup. Off by default.
   */
  pitr: z._default(z.boolean(), false),
  /**
   * Retention of a PITR tenant's base backups and WAL (src/pitr/retention.ts), applied after each
   * base backup: the newest keepBaseBackups bases and those completed within keepDays days are
   * kept, and the WAL they replay. Unset: keepBaseBackups 7.
   */
  pitrRetention: z.optional(z.strictObject({
    keepBaseBackups: z.int().check(z.gte(1), z.lte(10_000)),
    keepDays: z.optional(z.int().check(z.gte(0), z.lte(3650))),
  })),
  /**
   * How `backup` takes the tenant's PostgreSQL (src/backups/physical-snapshot.ts): logical (pg_dump,
   * every piece of state) or physical (the cluster's files into the repository, restic skipping the
   * unchanged ones unread; the other pieces, crm's Redis, as a logical backup takes them). `--physical` asks for it once.
   */
  backupMethod: z._default(z.enum(['logical', 'physical']), 'logical'),
}).check(
  // A pitr plan's backups take a physical base backup already, and a physical copy restored onto the
  // archive's timeline would clash with its WAL (restore-physical.ts refuses it): one or the other.
  z.refine((p) => !(p.pitr && p.backupMethod === 'physical'), { message: 'backupMethod physical cannot be used with pitr: true (a pitr plan\'s backups take a physical base backup already)', path: ['backupMethod'] }),
);

/**
 * The backup repository (src/repository/): with `repository` set, backups stream into that restic
 * repository (a local path, sftp:user@host:/path, or any restic URL); without it, into backupsDir.
 */
export const backupsSchema = z.strictObject({
  repository: z.optional(z.string()),
  /** sftp: the ssh private key restic's ssh logs in with (mounted read-only into the agent). */
  sshKey: z.optional(text()),
  /** sftp: the known_hosts file the repository host's key is checked against (StrictHostKeyChecking=yes). */
  sshKnownHosts: z.optional(text()),
  /**
   * `restic prune` runs at most once per this many minutes per repository (src/repository/
   * prune-interval.ts), after forgets; 0: after every forget, as before 035.
   */
  pruneIntervalMinutes: z._default(z.int().check(z.gte(0), z.lte(525_600)), 1440),
});

/**
 * The agent (src/agent/): one per Docker host, in its own compose project beside the front door;
 * runs the schedules (backups per plan, retention, doctor) and serves a loopback HTTP API.
 */
export const agentSchema = z.object({
  /** Compose project (and container name prefix) of the agent. */
  project: z._default(z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, dashes or underscores')), 'tenantctl-agent'),
  /** The agent's HTTP server listens on 127.0.0.1 at this port (/healthz, /status; /metrics later). */
  port: z._default(port, 9182),
  /** The image the agent's image is built on (node, docker CLI, compose v2): scripts/build-images.sh builds it. */
  baseImage: z._default(text(), 'tenantctl/agent-base:bookworm'),
  /** How often the agent looks for due schedules. */
  pollSeconds: z._default(z.number().check(z.gte(1), z.lte(3600)), 15),
  /** doctor's report (read-only) on the agent's host. */
  doctorSchedule: z._default(scheduleSpec, 'every 6h'),
  /**
   * How often the agent dumps the admin database into the backup repository (tenantctl admin-backup),
   * when backups.repository is set and the admin database is the local one: what `recover` needs.
   */
  adminBackupSchedule: z._default(scheduleSpec, 'every 6h'),
  /** How often retention (plans.<plan>.backupKeep) is applied. */
  retentionSchedule: z._default(scheduleSpec, 'every 1h'),
  /** How often the agent renews the front door's ACME certificates (`frontdoor renew`'s own code), when the door is set up with --acme. */
  certificateRenewalSchedule: z._default(scheduleSpec, 'every 12h'),
  /** certificate.expiring is raised (once per renewal run) for a certificate with fewer days left than this. */
  certificateExpiryAlertDays: z._default(z.number().check(z.gt(0), z.lte(365)), 14),
  /** The agent container's memory ceiling (compose mem_limit: 512m, 1g). */
  memLimit: z._default(z.string().check(z.regex(/^[1-9][0-9]{0,5}[kmg]$/, 'must be a size such as 512m or 1g')), '512m'),
  /** The agent container's CPU ceiling (compose cpus). */
  cpus: z._default(z.number().check(z.gt(0), z.lte(64)), 1),
  /** How often each agent records its heartbeat (admin_agent_heartbeats). */
  heartbeatSeconds: z._default(z.number().check(z.gte(1), z.lte(3600)), 15),
  /** A host whose agents' newest heartbeat is older than this is reported by any live agent (host.agent-silent). */
  silentAfterSeconds: z._default(z.number().check(z.gte(10), z.lte(86_400)), 120),
  /** A PITR tenant whose WAL shipping is behind by more than this is pitr.lagging (src/agent/pitr-lag.ts); pitr.caught-up when it is not. */
  walLagAlertSeconds: z._default(z.number().check(z.gte(60), z.lte(7 * 86_400)), 900),
});

const rateLimit = z.object({
  /** Sustained requests per second per tenant, at the front door. */
  requestsPerSecond: z.int().check(z.gte(1), z.lte(100_000)),
  /** Requests above the rate that are let through at once before 429s. */
  burst: z._default(z.int().check(z.gte(0), z.lte(1_000_000)), 0),
});

/**
 * The front door (src/frontdoor/): nginx routing <id>.<baseDomain> and custom domains to tenants'
 * apps, TLS, API keys checked at the door by the gateway. Used once `tenantctl frontdoor init` ran.
 */
export const frontdoorSchema = z.object({
  baseDomain: z._default(hostname, 'tenants.localhost'),
  /** Address nginx listens on (it runs in the host's network namespace). */
  listenAddress: z._default(z.ipv4(), '0.0.0.0'),
  httpPort: z._default(port, 80),
  httpsPort: z._default(port, 443),
  /** The gateway (API key checks, usage) listens on 127.0.0.1 at this port. */
  gatewayPort: z._default(port, 9181),
  /** Compose project of the front door (nginx and the gateway). */
  project: z._default(z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, dashes or underscores')), 'tenantctl-frontdoor'),
  /** Plain HTTP redirects to HTTPS (308); false serves HTTP as well. */
  redirectHttp: z._default(z.boolean(), true),
  /** How long the gateway trusts a key verdict and a tenant's modules (a revoked key stops within this plus 1 s). */
  keyCacheSeconds: z._default(z.number().check(z.gte(0), z.lte(4)), 2),
  /** How often the gateway writes counted requests to admin_api_usage. */
  usageFlushSeconds: z._default(z.number().check(z.gte(0.1), z.lte(60)), 1),
  /** nginx worker processes: a number, "auto" (one per core) or "half" (half the cores, at least one: the door shares them with tenants' apps). */
  workerProcesses: z._default(z.union([z.literal('auto'), z.literal('half'), z.int().check(z.gte(1), z.lte(64))]), 'half'),
  /** nginx access log (one JSON line per request, with the request id) on the container's stdout. */
  accessLog: z._default(z.boolean(), false),
  images: z.prefault(
    z.object({
      nginx: z._default(text(), 'tenantctl/nginx:bookworm'),
      gateway: z._default(text(), 'tenantctl/gateway:latest'),
    }),
    {},
  ),
  /** Per tenant, by plan: authenticated API calls only (counted after the key check). */
  rateLimits: z.prefault(
    z.object({
      starter: z._default(rateLimit, { requestsPerSecond: 20, burst: 40 }),
      standard: z._default(rateLimit, { requestsPerSecond: 100, burst: 200 }),
      enterprise: z._default(rateLimit, { requestsPerSecond: 500, burst: 1000 }),
    }),
    {},
  ),
  /**
   * Per client address ($remote_addr: X-Forwarded-For is trusted from nothing), for every request
   * that is not an authenticated API call: pages, health, public paths, and /api/ requests that
   * present no well-formed key (limited before the key check). Keyed API calls count against their
   * tenant's plan (rateLimits) only once the key passed.
   */
  addressRateLimit: z._default(rateLimit, { requestsPerSecond: 50, burst: 100 }),
  /** Strict-Transport-Security on HTTPS answers for the base domain's host names (one year, with subdomains). */
  hsts: z._default(z.boolean(), true),
  /**
   * Certificates by ACME (src/frontdoor/acme/), used once `frontdoor init --acme` ran: every tenant
   * host name and custom domain gets its own certificate by HTTP-01, answered by the door itself.
   */
  acme: z.prefault(
    z.object({
      /** The ACME server's directory URL (Let's Encrypt's production one by default). */
      directory: z._default(z.url({ protocol: /^https?$/ }), 'https://acme-v02.api.letsencrypt.org/directory'),
      /** Contact address for the ACME account (expiry notices); optional. */
      email: z.optional(z.email()),
      /** PEM file of CA certificates to trust for the ACME server's own TLS (a private ACME server). */
      caBundle: z.optional(text()),
      /** DNS server (host:port or address) the reachability check resolves custom domains with; unset: the system's resolver. */
      resolver: z.optional(text()),
      /** DNS-01 hook for the *.<baseDomain> wildcard: argv run as <argv...> set|unset <name> <value> (no shell). */
      dnsHook: z.optional(z.array(text()).check(z.minLength(1))),
    }),
    {},
  ),
  /** Path prefix -> module: requests under the prefix need the module enabled for the tenant (403 naming it). */
  modulePaths: z._default(
    z.record(z.string().check(z.regex(/^\/api\/[A-Za-z0-9._~\/-]*$/, 'must be a path under /api/')), z.string().check(z.regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a module key'))),
    {
      '/api/pipeline/': 'advanced_pipeline',
      '/api/calendar/': 'calendar_integration',
      '/api/ai/': 'ai_assistant',
      '/api/workflows/': 'workflow_automation',
      '/api/analytics/': 'analytics_reporting',
      '/api/custom-fields/': 'custom_fields',
      '/api/bulk/': 'bulk_operations',
      '/api/compliance/': 'compliance_audit',
    },
  ),
});

/**
 * tenantctl.config.yaml. Every field has a default, so no file is needed.
 * Defaults for images are the ones scripts/build-images.sh builds from Debian packages.
 */
export const configSchema = z.strictObject({
  customersDir: z._default(text(), 'customers'),
  templatePath: z._default(text(), 'templates/crm/docker-compose.tenant.yml'),
  /**
   * Templates (src/templates/, docs/templates.md): the shipped ones are templates/<name>/; `directory`
   * holds the operator's own (one folder each); `default` is what provision uses without --template;
   * `variables.<template>.<name>` overrides a variable's default (e.g. an image name).
   */
  templates: z.prefault(
    z.strictObject({
      directory: z.optional(text()),
      default: z._default(z.string().check(z.regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be a template name')), 'crm'),
      variables: z._default(z.record(z.string(), z.record(z.string(), z.string())), {}),
    }),
    {},
  ),
  /** Unset: $XDG_STATE_HOME/tenantctl or ~/.local/state/tenantctl (see load.ts), one per user. */
  stateDir: z.optional(text()),
  /** Where `tenantctl backup` writes; unset: <stateDir>/backups (see load.ts). */
  backupsDir: z.optional(text()),
  /** The tenant migrations (init-db.sql, then NNN_what.sql); unset: the ones shipped in scripts/tenant-migrations/. */
  tenantMigrationsDir: z.optional(text()),
  composeProjectPrefix: z._default(
    z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,19}$/, 'must be 1-20 lowercase letters, digits, dashes or underscores, starting with a letter or digit')),
    'tenant',
  ),
  bindAddress: z._default(z.ipv4(), '127.0.0.1'),
  /** Host name printed in URLs; defaults to the bind address (or this host's name when binding 0.0.0.0). */
  publicHost: z.optional(text()),
  healthDeadlineSeconds: z._default(z.number().check(z.positive(), z.lte(3600)), 120),
  /**
   * How often containers run their health checks, for Docker's own monitoring (`status`, restart
   * policies). Readiness is tenantctl's own probes, so provisioning does not wait on this; each
   * check is a process in the container, so a slow interval keeps idle tenants cheap.
   */
  healthIntervalSeconds: z._default(z.int().check(z.gte(1), z.lte(300)), 30),
  images: z.prefault(
    z.object({
      app: z._default(text(), 'tenantctl/app:latest'),
      postgres: z._default(text(), 'tenantctl/postgres:15'),
      redis: z._default(text(), 'tenantctl/redis:7'),
    }),
    {},
  ),
  ports: z.prefault(
    z.object({
      app: z._default(portRangeSchema, { from: 3001, to: 3999 }),
      db: z._default(portRangeSchema, { from: 5434, to: 5999 }),
      redis: z._default(portRangeSchema, { from: 6380, to: 6999 }),
    }),
    {},
  ),
  subnets: z.prefault(
    z.object({
      pool: z._default(cidr, '10.123.0.0/16'),
      prefixLength: z._default(z.int().check(z.gte(16), z.lte(29)), 28),
    }).check(
      z.refine((s) => s.prefixLength >= Number(s.pool.split('/')[1]), { message: 'prefixLength must not be shorter than the pool\'s prefix (each tenant gets a block of the pool)', path: ['prefixLength'] }),
    ),
    {},
  ),
  adminDatabase: z.prefault(
    z.object({
      /** When empty, tenantctl starts the admin database itself from docker-compose.local.yml. */
      url: z.optional(z.string()),
      localPort: z._default(port, 5433),
      localProject: z._default(z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]*$/)), 'tenantctl-admin'),
      /** How long to keep trying when the admin database does not answer (a busy host) before exit 8. */
      patienceSeconds: z._default(z.number().check(z.gte(0), z.lte(600)), 30),
    }),
    {},
  ),
  frontdoor: z.prefault(frontdoorSchema, {}),
  backups: z.prefault(backupsSchema, {}),
  agent: z.prefault(agentSchema, {}),
  /**
   * Per plan, what is not fixed by tenantctl's plans (src/templates/plans.ts): `pidsLimit`, the most
   * processes and threads one container of a tenant may run ({{pids_limit}} in templates).
   */
  plans: z.prefault(
    z.strictObject({
      starter: z.prefault(planSettings(256), {}),
      standard: z.prefault(planSettings(512), {}),
      enterprise: z.prefault(planSettings(1024), {}),
    }),
    {},
  ),
  /**
   * How provision picks a host of the fleet when no --host is given (src/hosts/placement.ts):
   * the active host with the fewest live tenants, or the one with the most memory not yet promised
   * to tenants. With no host registered it is always the local one.
   */
  placement: z._default(z.enum(['fewest-tenants', 'most-free-memory']), 'fewest-tenants'),
  /** The watch (src/watch/): how often each tenant's containers are looked at, and auto-restart's backoff. */
  watch: z.prefault(
    z.strictObject({
      intervalSeconds: z._default(z.number().check(z.gte(1), z.lte(3600)), 15),
      restartBackoffSeconds: z._default(z.number().check(z.gte(1), z.lte(86_400)), 30),
      restartBackoffMaxSeconds: z._default(z.number().check(z.gte(1), z.lte(86_400)), 1800),
      /** Passes in a row that must see a new state before it is recorded (down, degraded, recovered): damping of flaps. */
      confirmPasses: z._default(z.int().check(z.gte(1), z.lte(100)), 2),
      /** Automatic restarts of a tenant that stays down before the watch stops trying (an event says so). */
      restartMaxAttempts: z._default(z.int().check(z.gte(1), z.lte(1000)), 5),
      /** Events, and delivered or failed deliveries, older than this are deleted (the retention loop). */
      retentionDays: z._default(z.number().check(z.gte(1), z.lte(3650)), 30),
    }),
    {},
  ),
  /** Webhook deliveries (src/alerts/): how often due ones are sent, each request's bound, retries with backoff. */
  alerts: z.prefault(
    z.strictObject({
      deliveryIntervalSeconds: z._default(z.number().check(z.gte(0.2), z.lte(3600)), 5),
      timeoutSeconds: z._default(z.number().check(z.gte(1), z.lte(120)), 10),
      maxAttempts: z._default(z.int().check(z.gte(1), z.lte(100)), 10),
      backoffSeconds: z._default(z.number().check(z.gte(0.1), z.lte(86_400)), 30),
      backoffMaxSeconds: z._default(z.number().check(z.gte(1), z.lte(86_400)), 3600),
    }),
    {},
  ),
  /** Prometheus exposition (src/metrics/): the loopback port, and how long costly samples are reused. */
  metrics: z.prefault(
    z.strictObject({
      port: z._default(port, 9464),
      statsCacheSeconds: z._default(z.number().check(z.gte(1), z.lte(3600)), 30),
      diskCacheSeconds: z._default(z.number().check(z.gte(10), z.lte(86_400)), 900),
    }),
    {},
  ),
  /**
   * Point-in-time recovery for the plans that switch it on (plans.<plan>.pitr): archiveTimeoutSeconds
   * bounds how long a written change waits before its WAL segment is archived; the agent ships
   * archived segments to the repository every shipIntervalSeconds.
   */
  pitr: z.prefault(
    z.strictObject({
      archiveTimeoutSeconds: z._default(z.int().check(z.gte(10), z.lte(3600)), 60),
      shipIntervalSeconds: z._default(z.number().check(z.gte(5), z.lte(3600)), 30),
    }),
    {},
  ),
  /**
   * Suspended tenants (tenantctl suspend): deprovisionAfterDays is how many days a tenant stays
   * suspended before the policy deprovisions it, keeping its data (src/suspension/policy.ts; the
   * agent acts on it, announced by an alert a day before). Off (null) by default.
   */
  suspension: z.prefault(
    z.strictObject({
      deprovisionAfterDays: z._default(z.nullable(z.int().check(z.gte(1), z.lte(3650))), null),
    }),
    {},
  ),
}).check(
  // A lag bound under two shipping intervals is crossed by every normal wait for the next shipment:
  // pitr.lagging would be raised and caught up again all day.
  z.refine((c) => c.agent.walLagAlertSeconds >= 2 * c.pitr.shipIntervalSeconds, {
    message: 'must be at least two pitr.shipIntervalSeconds (a shipment waits up to one interval; the lag alert confirms on two records)',
    path: ['agent', 'walLagAlertSeconds'],
  }),
);

/** The loaded config: paths resolved, stateDir always set. */
export type Config = z.infer<typeof configSchema> & { stateDir: string; backupsDir: string };
export type PortRange = z.infer<typeof portRangeSchema>;
export type FrontdoorConfig = Config['frontdoor'];
export type AgentConfig = Config['agent'];
export type BackupsConfig = Config['backups'];
export type ServiceWithPort = keyof Config['ports'];
