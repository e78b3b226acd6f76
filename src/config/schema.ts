import { z } from 'zod';

const port = z.number().int().min(1).max(65535);

export const portRangeSchema = z
  .object({ from: port, to: port })
  .refine((range) => range.from <= range.to, { message: 'from must not be greater than to' });

const cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'must be an IPv4 CIDR such as 10.123.0.0/16');

/**
 * tenantctl.config.yaml. Every field has a default, so no file is needed.
 * Defaults for images are the ones scripts/build-images.sh builds from Debian packages.
 */
export const configSchema = z
  .object({
    customersDir: z.string().min(1).default('customers'),
    templatePath: z.string().min(1).default('templates/docker-compose.tenant.yml'),
    /** Default: $XDG_STATE_HOME/tenantctl or ~/.local/state/tenantctl (resolved in load.ts). */
    /** Unset: $XDG_STATE_HOME/tenantctl or ~/.local/state/tenantctl (see load.ts), one per user. */
    stateDir: z.string().min(1).optional(),
    composeProjectPrefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,19}$/, 'must be 1-20 lowercase letters, digits, dashes or underscores, starting with a letter or digit')
      .default('tenant'),
    bindAddress: z.ipv4().default('127.0.0.1'),
    /** Host name printed in URLs; defaults to the bind address (or this host's name when binding 0.0.0.0). */
    publicHost: z.string().min(1).optional(),
    healthDeadlineSeconds: z.number().positive().max(3600).default(120),
    /**
     * How often containers run their health checks. 1 s makes provisioning fast (a 10 s interval
     * costs 10 s per provision); each check is a process in the container, so hosts with very many
     * tenants may prefer a few seconds (Docker 20.10 has no separate start-up interval).
     */
    healthIntervalSeconds: z.number().int().min(1).max(300).default(1),
    images: z
      .object({
        app: z.string().min(1).default('tenantctl/app:latest'),
        postgres: z.string().min(1).default('tenantctl/postgres:15'),
        redis: z.string().min(1).default('tenantctl/redis:7'),
      })
      .prefault({}),
    ports: z
      .object({
        app: portRangeSchema.default({ from: 3001, to: 3999 }),
        db: portRangeSchema.default({ from: 5434, to: 5999 }),
        redis: portRangeSchema.default({ from: 6380, to: 6999 }),
      })
      .prefault({}),
    subnets: z
      .object({
        pool: cidr.default('10.123.0.0/16'),
        prefixLength: z.number().int().min(16).max(29).default(28),
      })
      .prefault({}),
    adminDatabase: z
      .object({
        /** When empty, tenantctl starts the admin database itself from docker-compose.local.yml. */
        url: z.string().optional(),
        localPort: port.default(5433),
        localProject: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/).default('tenantctl-admin'),
      })
      .prefault({}),
  })
  .strict();

/** The loaded config: paths resolved, stateDir always set. */
export type Config = z.infer<typeof configSchema> & { stateDir: string };
export type PortRange = z.infer<typeof portRangeSchema>;
export type ServiceWithPort = keyof Config['ports'];
