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

export const envOverrides: ReadonlyArray<{ env: string; path: string[]; parse: Parse }> = [
  { env: 'TENANTCTL_CUSTOMERS_DIR', path: ['customersDir'], parse: asString },
  { env: 'TENANTCTL_TEMPLATE', path: ['templatePath'], parse: asString },
  { env: 'TENANTCTL_STATE_DIR', path: ['stateDir'], parse: asString },
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
];
