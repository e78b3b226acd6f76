// TENANTCTL_* environment variables override the config file. One table, so the README and the
// code cannot drift: each row names the variable, the config path it sets and how to parse it.

type Parse = (raw: string) => unknown;

const asString: Parse = (raw) => raw;
const asNumber: Parse = (raw) => (raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw);
/** "3001-3999" -> { from: 3001, to: 3999 }; anything else is passed on for zod to reject. */
const asRange: Parse = (raw) => {
  const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(raw);
  return match ? { from: Number(match[1]), to: Number(match[2]) } : raw;
};

/** "true"/"1"/"yes" and "false"/"0"/"no"; anything else is passed on for zod to reject. */
const asBoolean: Parse = (raw) => (/^(true|1|yes)$/i.test(raw.trim()) ? true : /^(false|0|no)$/i.test(raw.trim()) ? false : raw);
/** "100" or "100/200" (requests per second / burst). */
const asRate: Parse = (raw) => {
  const match = /^\s*(\d+)\s*(?:\/\s*(\d+)\s*)?$/.exec(raw);
  if (!match) return raw;
  return match[2] === undefined ? { requestsPerSecond: Number(match[1]) } : { requestsPerSecond: Number(match[1]), burst: Number(match[2]) };
};

/** A JSON array of strings (an argv), e.g. ["/usr/local/bin/dns-hook","--zone","example.com"]; anything else is passed on for zod to reject. */
const asJsonArray: Parse = (raw) => {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
};

export const envOverrides: ReadonlyArray<{ env: string; path: string[]; parse: Parse }> = [
  { env: 'TENANTCTL_CUSTOMERS_DIR', path: ['customersDir'], parse: asString },
  { env: 'TENANTCTL_TEMPLATE', path: ['templatePath'], parse: asString },
  { env: 'TENANTCTL_TEMPLATES_DIR', path: ['templates', 'directory'], parse: asString },
  { env: 'TENANTCTL_DEFAULT_TEMPLATE', path: ['templates', 'default'], parse: asString },
  { env: 'TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS', path: ['suspension', 'deprovisionAfterDays'], parse: (raw) => (/^\s*(off|none)?\s*$/i.test(raw) ? null : asNumber(raw)) },
  { env: 'TENANTCTL_PLAN_STARTER_DISK_QUOTA', path: ['plans', 'starter', 'diskQuota'], parse: asString },
  { env: 'TENANTCTL_PLAN_STANDARD_DISK_QUOTA', path: ['plans', 'standard', 'diskQuota'], parse: asString },
  { env: 'TENANTCTL_PLAN_ENTERPRISE_DISK_QUOTA', path: ['plans', 'enterprise', 'diskQuota'], parse: asString },
  { env: 'TENANTCTL_STATE_DIR', path: ['stateDir'], parse: asString },
  { env: 'TENANTCTL_BACKUPS_DIR', path: ['backupsDir'], parse: asString },
  { env: 'TENANTCTL_BACKUP_REPOSITORY', path: ['backups', 'repository'], parse: asString },
  { env: 'TENANTCTL_BACKUP_SSH_KEY', path: ['backups', 'sshKey'], parse: asString },
  { env: 'TENANTCTL_BACKUP_SSH_KNOWN_HOSTS', path: ['backups', 'sshKnownHosts'], parse: asString },
  { env: 'TENANTCTL_BACKUP_PRUNE_INTERVAL_MINUTES', path: ['backups', 'pruneIntervalMinutes'], parse: asNumber },
  { env: 'TENANTCTL_TENANT_MIGRATIONS', path: ['tenantMigrationsDir'], parse: asString },
  { env: 'TENANTCTL_PROJECT_PREFIX', path: ['composeProjectPrefix'], parse: asString },
  { env: 'TENANTCTL_BIND_ADDRESS', path: ['bindAddress'], parse: asString },
  { env: 'TENANTCTL_PUBLIC_HOST', path: ['publicHost'], parse: asString },
  { env: 'TENANTCTL_HEALTH_DEADLINE', path: ['healthDeadlineSeconds'], parse: asNumber },
  { env: 'TENANTCTL_HEALTH_INTERVAL', path: ['healthIntervalSeconds'], parse: asNumber },
  { env: 'TENANTCTL_APP_IMAGE', path: ['images', 'app'], parse: asString },
  { env: 'TENANTCTL_POSTGRES_IMAGE', path: ['images', 'postgres'], parse: asString },
  { env: 'TENANTCTL_REDIS_IMAGE', path: ['images', 'redis'], parse: asString },
  { env: 'TENANTCTL_APP_PORTS', path: ['ports', 'app'], parse: asRange },
  { env: 'TENANTCTL_DB_PORTS', path: ['ports', 'db'], parse: asRange },
  { env: 'TENANTCTL_REDIS_PORTS', path: ['ports', 'redis'], parse: asRange },
  { env: 'TENANTCTL_SUBNET_POOL', path: ['subnets', 'pool'], parse: asString },
  { env: 'TENANTCTL_SUBNET_PREFIX', path: ['subnets', 'prefixLength'], parse: asNumber },
  { env: 'TENANTCTL_ADMIN_DATABASE_URL', path: ['adminDatabase', 'url'], parse: asString },
  { env: 'TENANTCTL_ADMIN_DB_PORT', path: ['adminDatabase', 'localPort'], parse: asNumber },
  { env: 'TENANTCTL_ADMIN_PROJECT', path: ['adminDatabase', 'localProject'], parse: asString },
  { env: 'TENANTCTL_ADMIN_DB_PATIENCE', path: ['adminDatabase', 'patienceSeconds'], parse: asNumber },
  { env: 'TENANTCTL_PLACEMENT', path: ['placement'], parse: asString },
  { env: 'TENANTCTL_WATCH_INTERVAL', path: ['watch', 'intervalSeconds'], parse: asNumber },
  { env: 'TENANTCTL_ALERTS_DELIVERY_INTERVAL', path: ['alerts', 'deliveryIntervalSeconds'], parse: asNumber },
  { env: 'TENANTCTL_ALERTS_BACKOFF', path: ['alerts', 'backoffSeconds'], parse: asNumber },
  { env: 'TENANTCTL_ALERTS_MAX_ATTEMPTS', path: ['alerts', 'maxAttempts'], parse: asNumber },
  { env: 'TENANTCTL_METRICS_PORT', path: ['metrics', 'port'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_BASE_DOMAIN', path: ['frontdoor', 'baseDomain'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_LISTEN_ADDRESS', path: ['frontdoor', 'listenAddress'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_HTTP_PORT', path: ['frontdoor', 'httpPort'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_HTTPS_PORT', path: ['frontdoor', 'httpsPort'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_GATEWAY_PORT', path: ['frontdoor', 'gatewayPort'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_PROJECT', path: ['frontdoor', 'project'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_REDIRECT_HTTP', path: ['frontdoor', 'redirectHttp'], parse: asBoolean },
  { env: 'TENANTCTL_FRONTDOOR_KEY_CACHE', path: ['frontdoor', 'keyCacheSeconds'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_USAGE_FLUSH', path: ['frontdoor', 'usageFlushSeconds'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_ACCESS_LOG', path: ['frontdoor', 'accessLog'], parse: asBoolean },
  { env: 'TENANTCTL_FRONTDOOR_WORKERS', path: ['frontdoor', 'workerProcesses'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_NGINX_IMAGE', path: ['frontdoor', 'images', 'nginx'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_GATEWAY_IMAGE', path: ['frontdoor', 'images', 'gateway'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_RATE_STARTER', path: ['frontdoor', 'rateLimits', 'starter'], parse: asRate },
  { env: 'TENANTCTL_FRONTDOOR_RATE_STANDARD', path: ['frontdoor', 'rateLimits', 'standard'], parse: asRate },
  { env: 'TENANTCTL_FRONTDOOR_RATE_ENTERPRISE', path: ['frontdoor', 'rateLimits', 'enterprise'], parse: asRate },
  { env: 'TENANTCTL_FRONTDOOR_RATE_PER_ADDRESS', path: ['frontdoor', 'addressRateLimit'], parse: asRate },
  { env: 'TENANTCTL_FRONTDOOR_HSTS', path: ['frontdoor', 'hsts'], parse: asBoolean },
  { env: 'TENANTCTL_AGENT_PROJECT', path: ['agent', 'project'], parse: asString },
  { env: 'TENANTCTL_AGENT_PORT', path: ['agent', 'port'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_BASE_IMAGE', path: ['agent', 'baseImage'], parse: asString },
  { env: 'TENANTCTL_AGENT_POLL', path: ['agent', 'pollSeconds'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_DOCTOR_SCHEDULE', path: ['agent', 'doctorSchedule'], parse: asString },
  { env: 'TENANTCTL_AGENT_RETENTION_SCHEDULE', path: ['agent', 'retentionSchedule'], parse: asString },
  { env: 'TENANTCTL_AGENT_CERTIFICATE_RENEWAL_SCHEDULE', path: ['agent', 'certificateRenewalSchedule'], parse: asString },
  { env: 'TENANTCTL_AGENT_CERTIFICATE_EXPIRY_ALERT_DAYS', path: ['agent', 'certificateExpiryAlertDays'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_ADMIN_BACKUP_SCHEDULE', path: ['agent', 'adminBackupSchedule'], parse: asString },
  { env: 'TENANTCTL_AGENT_MEM_LIMIT', path: ['agent', 'memLimit'], parse: asString },
  { env: 'TENANTCTL_AGENT_CPUS', path: ['agent', 'cpus'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_HEARTBEAT', path: ['agent', 'heartbeatSeconds'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_SILENT_AFTER', path: ['agent', 'silentAfterSeconds'], parse: asNumber },
  { env: 'TENANTCTL_AGENT_WAL_LAG_ALERT', path: ['agent', 'walLagAlertSeconds'], parse: asNumber },
  { env: 'TENANTCTL_FRONTDOOR_ACME_DIRECTORY', path: ['frontdoor', 'acme', 'directory'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_ACME_EMAIL', path: ['frontdoor', 'acme', 'email'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE', path: ['frontdoor', 'acme', 'caBundle'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_ACME_RESOLVER', path: ['frontdoor', 'acme', 'resolver'], parse: asString },
  { env: 'TENANTCTL_FRONTDOOR_ACME_DNS_HOOK', path: ['frontdoor', 'acme', 'dnsHook'], parse: asJsonArray },
];
