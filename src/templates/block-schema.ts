import * as z from 'zod/mini';
import '../common/zod.js';

// The `x-tenantctl:` block at the top of a template's compose file: what tenantctl must know about
// a stack to provision it (issue 12). docs/templates.md describes every field; keep them in step.
// Only the shape is checked here; whether the names refer to each other and to the compose file's
// services is validate.ts's job.

const name = z.string().check(z.regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, "_" or "-", starting with a letter'));
/** Secret names become file names under customers/<id>/secrets/ and /run/secrets/. */
const secretName = z.string().check(z.regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be 1-64 uppercase letters, digits or "_", starting with a letter'));
const serviceName = z.string().check(z.regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a compose service name'));
const hostPort = z.int().check(z.gte(1024, 'must be 1024 or higher'), z.lte(65535, 'must be at most 65535'));
const containerPort = z.int().check(z.gte(1), z.lte(65535));
const role = z.string().check(z.regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a PostgreSQL role name (lowercase letters, digits, "_")'));
/** A database name, possibly with {{tenant_id_underscored}} in it: checked again once rendered. */
const database = z.string().check(z.regex(/^([a-z_][a-z0-9_]*|\{\{\s*[a-z_]+\s*\}\})+$/, 'must be a database name (lowercase letters, digits, "_"), may use {{tenant_id_underscored}}'));

const portRange = z.strictObject({ from: hostPort, to: hostPort }).check(
  z.refine((range) => range.from <= range.to, { message: 'from must not be greater than to' }),
);

const portDeclaration = z.strictObject({ service: serviceName, container: containerPort, range: portRange });

/** An absolute path in a container: no `..`, nothing a shell or a tar would read otherwise. */
const containerPath = z.string().check(z.regex(/^\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/, 'must be an absolute path of letters, digits, ".", "_", "-" (no "..")'), z.refine((p) => !p.split('/').includes('..'), { message: 'must not contain ".."' }));

/**
 * How a new value of a secret takes effect where a server holds it (rotate-secrets). Every secret
 * is also rewritten in customers/<id>/secrets/ and every service that mounts it (its compose
 * `secrets:`) is recreated; a server that holds the value itself gets it first:
 * - postgresRole: ALTER ROLE <role> PASSWORD in the service's PostgreSQL (its state piece says
 *   as whom); that service is not recreated (it reads the file only at its first start);
 * - redisPassword: CONFIG SET requirepass in the service's Redis (then recreated like the rest).
 */
const secretApplier = z.union([
  z.strictObject({ postgresRole: z.strictObject({ service: serviceName, role }) }),
  z.strictObject({ redisPassword: z.strictObject({ service: serviceName }) }),
]);

const secretDeclaration = z.strictObject({
  length: z.int().check(z.gte(16, 'must be at least 16'), z.lte(128, 'must be at most 128')),
  alphabet: z._default(z.enum(['alphanumeric', 'hex', 'base64url']), 'alphanumeric'),
  applies: z.optional(secretApplier),
});

/**
 * A piece of the tenant's state, and how to take a consistent snapshot of it while the tenant runs
 * (backup, restore, move, clone are written against these):
 * - postgres: pg_dump -Fc of `database` as `user` (its owner) inside the service's container; a
 *   restore loads a scratch database beside it and swaps;
 * - redis: BGSAVE (AUTH with passwordSecret), the dump.rdb in `dir`; a restore swaps its files;
 * - sqlite: SQLite's online backup of the file at `path` (through `via`, python3 or sqlite3, in a
 *   container of the service's image on its volume); a restore swaps the file;
 * - volume: stop-and-copy: the service stops, its volume at `path` is archived (tar), it starts again.
 */
const statePiece = z.union([
  z.strictObject({ postgres: z.strictObject({ service: serviceName, database, user: role }) }),
  z.strictObject({ redis: z.strictObject({ service: serviceName, passwordSecret: secretName, dir: z._default(containerPath, '/data') }) }),
  z.strictObject({ sqlite: z.strictObject({ service: serviceName, path: containerPath, via: z._default(z.enum(['python3', 'sqlite3']), 'python3') }) }),
  z.strictObject({ volume: z.strictObject({ service: serviceName, path: containerPath }) }),
]);

const httpCheck = z.strictObject({
  port: name,
  path: z._default(z.string().check(z.regex(/^\/[\x21-\x7e]*$/, 'must be a path starting with /')), '/'),
  status: z._default(z.int().check(z.gte(100), z.lte(599)), 200),
});
const postgresCheck = z.strictObject({ port: name, user: role, passwordSecret: secretName, database });
const redisCheck = z.strictObject({
  port: name,
  passwordSecret: secretName,
  /** A key that must exist (e.g. a worker's heartbeat, set with a TTL on every beat). */
  key: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});

/** Exactly one probe per service. */
const readiness = z.union([
  z.strictObject({ http: httpCheck }),
  z.strictObject({ tcp: z.strictObject({ port: name }) }),
  z.strictObject({ postgres: postgresCheck }),
  z.strictObject({ redis: redisCheck }),
  z.strictObject({ redisHttp: z.strictObject({ port: name, tokenSecret: secretName }) }),
  z.strictObject({ running: z.literal(true) }),
]);

const profile = z.strictObject({
  description: z._default(z.string(), ''),
  services: z.array(serviceName).check(z.minLength(1, 'must name at least one service')),
});

const variable = z.strictObject({
  default: z.string(),
  description: z._default(z.string(), ''),
});

// Under /api/ (the rest is public anyway), longer than it, and plain characters only: the path is
// written into nginx's configuration, so nothing in it may end a directive.
const publicPath = z.string().check(
  z.regex(/^\/api\/[A-Za-z0-9._~-][A-Za-z0-9._~\/-]*$/, 'must be a path under /api/ such as /api/notes (letters, digits, ".", "_", "~", "-", "/")'),
);

export const blockSchema = z.strictObject({
  version: z.literal(1, 'must be 1'),
  description: z.string().check(z.minLength(1), z.maxLength(200)),
  ports: z._default(z.record(name, portDeclaration), {}),
  frontdoor: z.optional(z.strictObject({
    port: name,
    /**
     * Path prefixes under /api/ the front door passes without an API key (the stack's own public
     * API, e.g. what its web page calls); everything else under /api/ needs a key of the tenant.
     */
    publicPaths: z._default(z.array(publicPath), []),
  })),
  secrets: z._default(z.record(secretName, secretDeclaration), {}),
  readiness: z.record(serviceName, readiness),
  // superuserOwner: the stack needs its owner role to be a superuser, so tenantctl leaves one that is
  // (tenants/owner-role.ts makes it none otherwise, at provision and migrate).
  migrations: z.optional(z.strictObject({ service: serviceName, port: name, user: role, passwordSecret: secretName, database, superuserOwner: z.optional(z.boolean()) })),
  /** The tenant's state, piece by piece (name: lowercase; its backup file is <name>.<kind's extension>). */
  state: z._default(z.record(name, statePiece), {}),
  profiles: z._default(z.record(name, profile), {}),
  variables: z._default(z.record(z.string().check(z.regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits or "_", starting with a letter')), variable), {}),
});

export type TemplateBlock = z.infer<typeof blockSchema>;
export type PortDeclaration = z.infer<typeof portDeclaration>;
export type SecretDeclaration = z.infer<typeof secretDeclaration>;
export type ReadinessDeclaration = z.infer<typeof readiness>;
export type MigrationsTarget = NonNullable<TemplateBlock['migrations']>;
export type StatePieceDeclaration = z.infer<typeof statePiece>;
export type SecretApplier = z.infer<typeof secretApplier>;

/** The block, or every problem as a `path: message` line (x-tenantctl.ports.app.range.from: ...). */
export function parseBlock(value: unknown): { ok: true; block: TemplateBlock } | { ok: false; problems: string[] } {
  if (value === undefined) return { ok: false, problems: ['x-tenantctl: missing: a template declares its ports, secrets and readiness there (docs/templates.md)'] };
  const result = z.safeParse(blockSchema, value);
  if (result.success) return { ok: true, block: result.data };
  return { ok: false, problems: result.error.issues.flatMap((issue) => describeIssue(issue, value)) };
}

const probeKinds = ['http', 'tcp', 'postgres', 'redis', 'redisHttp', 'running'];
const stateKinds = ['postgres', 'redis', 'sqlite', 'volume'];
const applierKinds = ['postgresRole', 'redisPassword'];

/** One issue as `path: message` lines; a readiness entry says which probe it is read as, and what is wrong with it. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown, prefix: PropertyKey[] = []): string[] {
  const path = [...prefix, ...issue.path];
  const where = ['x-tenantctl', ...path.map(String)].join('.');
  if (issue.code === 'invalid_union') {
    const entry = path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), input);
    const keys = entry && typeof entry === 'object' ? Object.keys(entry) : [];
    // Which union: readiness probes, state pieces or secret appliers, by where the entry is.
    const kinds = path[0] === 'state' ? stateKinds : path[0] === 'secrets' ? applierKinds : probeKinds;
    const branch = keys.length === 1 ? kinds.indexOf(keys[0]!) : -1;
    if (branch < 0) return [`${where}: must be exactly one of ${kinds.map((k) => (k === 'running' ? 'running: true' : k)).join(', ')}`];
    return issue.errors[branch]!.flatMap((inner) => describeIssue(inner, input, path));
  }
  if (issue.code === 'invalid_key') return [`${where}: key ${issue.issues[0]?.message ?? issue.message}`];
  const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  return [`${where}: ${issue.message}${keys}`];
}
