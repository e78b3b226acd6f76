import * as z from 'zod/mini';
import '../common/zod.js';

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

/**
 * tenantctl.config.yaml. Every field has a default, so no file is needed.
 * Defaults for images are the ones scripts/build-images.sh builds from Debian packages.
 */
export const configSchema = z.strictObject({
  customersDir: z._default(text(), 'customers'),
  templatePath: z._default(text(), 'templates/docker-compose.tenant.yml'),
  /** Unset: $XDG_STATE_HOME/tenantctl or ~/.local/state/tenantctl (see load.ts), one per user. */
  stateDir: z.optional(text()),
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
});

/** The loaded config: paths resolved, stateDir always set. */
export type Config = z.infer<typeof configSchema> & { stateDir: string };
export type PortRange = z.infer<typeof portRangeSchema>;
export type ServiceWithPort = keyof Config['ports'];
