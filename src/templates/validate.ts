import { parse } from 'yaml';
import { isRecord, renderTemplate, TemplateError } from './render-compose.js';
import type { Template } from './template.js';
import { builtinNames, fillBlockText, sampleTenant, templateValues, type HostValues } from './values.js';
import { invalidTemplate } from './load.js';
import { namedVolumeMounts, volumeHolding } from './volume-mounts.js';
import { environmentInterpolation } from './interpolation.js';
import { hardeningWarnings } from './hardening.js';
import { TenantctlError } from '../common/errors.js';

// Offline validation of a loaded template: render it with sample values, then check that the block
// and the rendered compose file agree. No Docker. Every problem is a `path: message` line; a
// template with any is refused (exit 2) before anything is created.

/** The compose file a template renders to with `values`; the x-tenantctl block is left out. */
export function renderTemplateWith(template: Pick<Template, 'text'>, values: Record<string, string>): string {
  return renderTemplate(template.text, values, { omit: ['x-tenantctl'] });
}

/**
 * The template rendered with sample values, and that render parsed: what validation checks and what
 * provision reads the images from. Kept per template object and host values, because a YAML parse
 * of a real template costs ~10-15 ms of a cold process and one provision asks for this twice.
 */
export function sampleRender(template: Pick<Template, 'text' | 'name' | 'block'>, host: HostValues): { rendered: string; tree: Record<string, unknown> } {
  const values = templateValues(template, sampleTenant(template), host);
  const key = JSON.stringify(values);
  let byValues = sampleRenders.get(template);
  if (!byValues) sampleRenders.set(template, (byValues = new Map()));
  let sample = byValues.get(key);
  if (!sample) {
    const rendered = renderTemplateWith(template, values);
    sample = { rendered, tree: parse(rendered, { merge: true, maxAliasCount: -1 }) as Record<string, unknown> };
    byValues.set(key, sample);
  }
  return sample;
}
const sampleRenders = new WeakMap<object, Map<string, { rendered: string; tree: Record<string, unknown> }>>();

export function templateProblems(template: Template, host: HostValues): string[] {
  const { block } = template;
  const problems: string[] = [];
  const at = (where: string, message: string): false => {
    problems.push(`x-tenantctl.${where}: ${message}`);
    return false;
  };
  const builtins = builtinNames();
  for (const name of Object.keys(block.variables)) if (builtins.has(name)) at(`variables.${name}`, 'is a built-in placeholder; choose another name');

  const values = templateValues(template, sampleTenant(template), host);
  let tree: Record<string, unknown>;
  try {
    tree = sampleRender(template, host).tree;
  } catch (error) {
    if (error instanceof TemplateError) return [...problems, `${template.composeFile.split('/').pop()}: ${error.message}`];
    throw error;
  }
  const interpolated = environmentInterpolation(tree);
  if (interpolated) problems.push(interpolationProblem(interpolated));
  const services = tree.services as Record<string, Record<string, unknown>>;
  const serviceNames = new Set(Object.keys(services));
  const portNames = new Set(Object.keys(block.ports));
  const secretNames = new Set(Object.keys(block.secrets));
  const profileOf = (service: string): string[] => (Array.isArray(services[service]?.profiles) ? (services[service]!.profiles as string[]) : []);
  const needService = (where: string, service: string) => serviceNames.has(service) || at(where, `service ${service} is not in the compose file's services (${[...serviceNames].join(', ')})`);
  const needPort = (where: string, port: string) => portNames.has(port) || at(where, `port ${port} is not declared under x-tenantctl.ports`);
  const needSecret = (where: string, secret: string) => secretNames.has(secret) || at(where, `secret ${secret} is not declared under x-tenantctl.secrets`);

  // Ports: each declared one is published by its service; no other host port is published.
  const declaredHostPorts = new Map(Object.entries(block.ports).map(([name, port]) => [port.range.from, name]));
  for (const [name, port] of Object.entries(block.ports)) {
    if (!needService(`ports.${name}.service`, port.service)) continue;
    const published = publishedPorts(services[port.service]!);
    if (!published.some((p) => p.host === port.range.from && p.container === port.container)) {
      at(`ports.${name}`, `service ${port.service} does not publish it: add "{{bind_address}}:{{port.${name}}}:${port.container}" to its ports`);
    }
  }
  for (const [service, definition] of Object.entries(services)) {
    for (const p of publishedPorts(definition)) {
      if (p.host === undefined || !declaredHostPorts.has(p.host)) problems.push(`services.${service}.ports: publishes a host port that is not one of x-tenantctl.ports ({{port.<name>}}): tenantctl allocates every host port`);
    }
  }
  if (block.frontdoor) needPort('frontdoor.port', block.frontdoor.port);
  // Where a port is published is tenantctl's to say ({{bind_address}}: loopback here, the host's
  // publish address on a remote host): a fixed address, or none (every interface), would put a
  // tenant's database or keyless app port where the operator did not choose. Checked on a render
  // whose bind_address is a marker, so a template that hard-codes the configured value is caught too.
  for (const [service, address] of publishAddressProblems(template, values)) {
    problems.push(`services.${service}.ports: publishes on ${address}; every published port's address must be exactly "{{bind_address}}" (e.g. "{{bind_address}}:{{port.<name>}}:<container port>")`);
  }
  for (const [service, definition] of Object.entries(services)) {
    if (isRecord(definition) && definition.network_mode === 'host') problems.push(`services.${service}.network_mode: host puts every port of the service on the host's interfaces, past tenantctl's ports; use the tenant's network`);
  }

  // Readiness: every service that always runs has a probe; each probe names what exists.
  for (const [service, check] of Object.entries(block.readiness)) {
    const where = `readiness.${service}`;
    needService(where, service);
    if ('http' in check) needPort(`${where}.http.port`, check.http.port);
    else if ('tcp' in check) needPort(`${where}.tcp.port`, check.tcp.port);
    else if ('postgres' in check) {
      needPort(`${where}.postgres.port`, check.postgres.port);
      needSecret(`${where}.postgres.passwordSecret`, check.postgres.passwordSecret);
      checkDatabase(`${where}.postgres.database`, check.postgres.database);
    } else if ('redis' in check) {
      needPort(`${where}.redis.port`, check.redis.port);
      needSecret(`${where}.redis.passwordSecret`, check.redis.passwordSecret);
    } else if ('redisHttp' in check) {
      needPort(`${where}.redisHttp.port`, check.redisHttp.port);
      needSecret(`${where}.redisHttp.tokenSecret`, check.redisHttp.tokenSecret);
    }
  }
  for (const service of serviceNames) {
    if (profileOf(service).length === 0 && !(service in block.readiness)) at(`readiness.${service}`, `missing: service ${service} always runs, so it needs a readiness probe (http, tcp, postgres, redis, redisHttp or running: true)`);
  }

  if (block.migrations) {
    needService('migrations.service', block.migrations.service);
    needPort('migrations.port', block.migrations.port);
    needSecret('migrations.passwordSecret', block.migrations.passwordSecret);
    checkDatabase('migrations.database', block.migrations.database);
  } else if (template.migrationsDir) {
    at('migrations', `missing: the template has ${template.migrationsDir.split('/').pop()}/ but no target database to apply it to`);
  }

  // State: each piece names a service that exists, and whatever it needs to be read and written back.
  const mounts = namedVolumeMounts(tree);
  const stateOf = (service: string, kind: string) => Object.values(block.state).some((piece) => kind in piece && (piece as Record<string, { service: string }>)[kind]!.service === service);
  for (const [name, piece] of Object.entries(block.state)) {
    const where = `state.${name}`;
    if ('postgres' in piece) {
      needService(`${where}.postgres.service`, piece.postgres.service);
      checkDatabase(`${where}.postgres.database`, piece.postgres.database);
    } else if ('redis' in piece) {
      if (needService(`${where}.redis.service`, piece.redis.service) && !mounts.some((m) => m.service === piece.redis.service && m.target === piece.redis.dir)) {
        at(`${where}.redis.dir`, `service ${piece.redis.service} mounts no named volume at ${piece.redis.dir}: its files are restored into that volume`);
      }
      needSecret(`${where}.redis.passwordSecret`, piece.redis.passwordSecret);
    } else if ('sqlite' in piece) {
      if (needService(`${where}.sqlite.service`, piece.sqlite.service) && !volumeHolding(mounts, piece.sqlite.service, piece.sqlite.path)) {
        at(`${where}.sqlite.path`, `${piece.sqlite.path} is on no named volume of service ${piece.sqlite.service}: the file is read and restored through that volume`);
      }
    } else if (needService(`${where}.volume.service`, piece.volume.service) && !mounts.some((m) => m.service === piece.volume.service && m.target === piece.volume.path)) {
      at(`${where}.volume.path`, `service ${piece.volume.service} mounts no named volume at ${piece.volume.path}`);
    }
  }
  // No two pieces over the same data: a restore swaps and puts back each piece on its own, so two
  // claiming the same files (a volume piece is its whole volume) would undo each other.
  const claims = Object.entries(block.state).flatMap(([name, piece]) => {
    if ('postgres' in piece) return [{ name, on: `postgres ${piece.postgres.service} ${piece.postgres.database}`, entries: ['*'] }];
    const [service, path, entries] = 'redis' in piece ? [piece.redis.service, piece.redis.dir, ['appendonlydir', 'dump.rdb', 'appendonly.aof']]
      : 'sqlite' in piece ? [piece.sqlite.service, piece.sqlite.path, undefined]
      : [piece.volume.service, piece.volume.path, ['*']];
    const holding = volumeHolding(mounts, service, path);
    if (!holding) return [];
    const relative = path === holding.target ? '' : path.slice(holding.target === '/' ? 1 : holding.target.length + 1);
    return [{ name, on: `volume ${holding.key}`, entries: entries ?? ['', '-wal', '-shm', '-journal'].map((suffix) => `${relative}${suffix}`) }];
  });
  const overlaps = (a: string, b: string) => a === '*' || b === '*' || a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
  claims.forEach((one, i) => claims.slice(i + 1).forEach((other) => {
    if (one.on === other.on && one.entries.some((a) => other.entries.some((b) => overlaps(a, b)))) {
      at(`state.${other.name}`, `holds the same data as state.${one.name} (${one.on}): each piece is backed up and restored on its own, so no two may share files or a database`);
    }
  }));

  // Secret appliers: the server that holds the value is one of the state's.
  for (const [secret, declaration] of Object.entries(block.secrets)) {
    const applies = declaration.applies;
    if (!applies) continue;
    const [kind, target] = 'postgresRole' in applies ? ['postgres', applies.postgresRole] as const : ['redis', applies.redisPassword] as const;
    const key = 'postgresRole' in applies ? 'postgresRole' : 'redisPassword';
    if (needService(`secrets.${secret}.applies.${key}.service`, target.service) && !stateOf(target.service, kind)) {
      at(`secrets.${secret}.applies.${key}.service`, `service ${target.service} has no ${kind} piece under x-tenantctl.state: that is how tenantctl reaches its server`);
    }
  }

  // Profiles: the block and the compose file name the same optional services.
  for (const [name, profile] of Object.entries(block.profiles)) {
    profile.services.forEach((service, i) => {
      if (needService(`profiles.${name}.services.${i}`, service) && !profileOf(service).includes(name)) {
        at(`profiles.${name}.services.${i}`, `service ${service} must carry \`profiles: [${name}]\` in the compose file`);
      }
    });
  }
  for (const service of serviceNames) {
    for (const name of profileOf(service)) if (!(name in block.profiles)) problems.push(`services.${service}.profiles: profile ${name} is not declared under x-tenantctl.profiles`);
  }

  // Secrets: compose hands over only declared ones, from the files tenantctl writes.
  const composeSecrets = isRecord(tree.secrets) ? tree.secrets : {};
  for (const [name, definition] of Object.entries(composeSecrets)) {
    if (!secretNames.has(name)) problems.push(`secrets.${name}: not declared under x-tenantctl.secrets, so tenantctl would not write ./secrets/${name}`);
    else if (!isRecord(definition) || definition.file !== `./secrets/${name}`) problems.push(`secrets.${name}.file: must be ./secrets/${name} (tenantctl writes the value there, mode 0600)`);
  }
  for (const [service, definition] of Object.entries(services)) {
    for (const entry of Array.isArray(definition.secrets) ? definition.secrets : []) {
      const name = typeof entry === 'string' ? entry : isRecord(entry) ? String(entry.source) : '';
      if (!(name in composeSecrets)) problems.push(`services.${service}.secrets: ${name} is not in the top-level secrets`);
    }
  }
  return problems;

  function checkDatabase(where: string, database: string): void {
    const filled = fillBlockText(database, values);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(filled)) at(where, `renders to ${JSON.stringify(filled)}, which is not a database name`);
  }
}

function interpolationProblem(found: string): string {
  return `${found}: compose would fill it from the environment tenantctl runs in; use a {{placeholder}} (x-tenantctl.variables), or $$ for a literal $`;
}

/**
 * Refuses (exit 2, every problem on its own line) a template that does not validate. One that
 * interpolates from the environment is refused on one line, before anything else is said about it.
 */
export function assertValidTemplate(template: Template, host: HostValues): void {
  const where = template.source === 'file' ? template.composeFile : template.name;
  let interpolated: string | undefined;
  try {
    interpolated = environmentInterpolation(sampleRender(template, host).tree);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
  }
  if (interpolated) throw new TenantctlError('usage', `template ${where} is refused: ${interpolationProblem(interpolated)}`);
  const problems = templateProblems(template, host);
  if (problems.length > 0) throw invalidTemplate(where, problems);
}

/** What validation warns about without refusing: services without the hardening (hardening.ts). */
export function templateWarnings(template: Pick<Template, 'text' | 'name' | 'block'>, host: HostValues): string[] {
  return hardeningWarnings(sampleRender(template, host).tree);
}

const bindAddressMarker = '198.51.100.254';

/** The services publishing a port on an address other than {{bind_address}}, and that address ("every interface" for none). */
function publishAddressProblems(template: Pick<Template, 'text'>, values: Record<string, string>): Array<[string, string]> {
  const tree = parse(renderTemplateWith(template, { ...values, bind_address: bindAddressMarker }), { merge: true, maxAliasCount: -1 }) as { services?: Record<string, unknown> };
  const found: Array<[string, string]> = [];
  for (const [service, definition] of Object.entries(tree.services ?? {})) {
    const entries = isRecord(definition) && Array.isArray(definition.ports) ? definition.ports : [];
    for (const entry of entries) {
      const address = publishedAddressOf(entry);
      if (address !== bindAddressMarker) found.push([service, address === undefined ? 'every interface (no address)' : address]);
    }
  }
  return found;
}

/** The host address of a compose `ports:` entry: short "[addr:]host:container" or the long form's host_ip. */
export function publishedAddressOf(entry: unknown): string | undefined {
  if (isRecord(entry)) return entry.host_ip === undefined ? undefined : String(entry.host_ip).replace(/^\[(.*)\]$/, '$1');
  const text = String(entry).split('/')[0]!;
  const bracketed = /^\[([^\]]+)\]:/.exec(text);
  if (bracketed) return bracketed[1];
  const parts = text.split(':');
  return parts.length >= 3 ? parts.slice(0, parts.length - 2).join(':') : undefined;
}

/** Host ports a service publishes (short "addr:host:container" or long syntax). */
function publishedPorts(service: Record<string, unknown>): Array<{ host?: number; container: number }> {
  const entries = Array.isArray(service.ports) ? service.ports : [];
  return entries.map((entry) => {
    if (isRecord(entry)) return { host: entry.published === undefined ? undefined : Number(entry.published), container: Number(entry.target) };
    const parts = String(entry).split('/')[0]!.split(':');
    const container = Number(parts.pop());
    return { host: parts.length > 0 ? Number(parts.pop()) : undefined, container };
  });
}
