// Pure: a tenant's rendered compose file as a Docker Swarm stack file (`docker stack deploy -c`).
// What swarm can express is translated (mem_limit/cpus/pids_limit -> deploy.resources, restart ->
// deploy.restart_policy, tmpfs -> tmpfs mounts, cap_add/cap_drop/read_only as they are (services
// take them since Engine 20.10, API 1.41), relative bind mounts -> swarm configs, file
// secrets -> swarm secrets with mode 0400 (a service reading them starts as root), the bridge network -> an overlay network); what it
// cannot (build, container_name, profiles, depends_on conditions it cannot wait for, privileges) is
// refused with the reason, before anything is deployed.
//
// Placement: every service of a tenant is pinned to one node. Volumes are per node, so a
// database task that moved would start empty; and ports are published in host mode on that node,
// because swarm's ingress mesh needs IPVS in the kernel, which not every host has (this project's
// test machines do not; without it service VIPs do not work either, hence endpoint_mode dnsrr).
// tenantctl dials the pinned node's address.
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { labelsOf, relativeBind } from '../templates/compose-tree.js';
import { isRecord } from '../templates/render-compose.js';
import { foldSecretCopies, numericUser } from '../templates/secret-copies.js';

/** What an entrypoint that starts as root to copy its secrets and drop to its user needs (docs/templates.md, "Hardening"). */
const rootEntrypointCaps = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'];

export class SwarmRenderError extends Error {
  constructor(readonly reasons: string[]) {
    super(`cannot be deployed as a swarm stack: ${reasons.join('; ')}`);
  }
}

export interface SwarmRenderInput {
  /** The tenant's compose file as rendered for compose. */
  rendered: string;
  /** Relative bind-mounted directories (as written in the file, e.g. ./initdb) -> the files in them. */
  directories: Record<string, string[]>;
  /** The node (hostname) every service of the tenant runs on. */
  node: string;
  /**
   * The tenant's compose project (the stack's name). Its containers get compose's project and
   * service labels, so what finds a tenant's containers on an engine (readiness, doctor) finds
   * them on the node too.
   */
  project?: string;
  /**
   * Image references -> what the stack names instead: the tenant's own pin tags on its node
   * (swarm-stack.ts), so a task swarm creates later runs the image this deploy proved, whatever the
   * original tag points to on the node by then.
   */
  images?: Record<string, string>;
  /**
   * Secret key -> the swarm secret object's name, for secrets rotated since the first deploy
   * (<project>_<KEY>_v<N>): swarm secrets are immutable, so a new value is a new object. A key not
   * named here is swarm's default, <project>_<KEY>.
   */
  secretNames?: Record<string, string>;
}

export interface SwarmRender {
  text: string;
  /** What was translated, one line each (for --verbose output and the tenant's manifest). */
  notes: string[];
}

/** Service keys a stack takes as they are. */
const passThrough = new Set(['image', 'command', 'entrypoint', 'environment', 'healthcheck', 'labels', 'logging', 'networks', 'user', 'working_dir', 'stop_grace_period', 'stop_signal', 'ulimits', 'init', 'hostname', 'cap_add', 'cap_drop', 'read_only']);
/** Service keys swarm ignores or cannot honour: refused rather than silently dropped. */
const refused: Record<string, string> = {
  build: 'swarm does not build images: build and load them on the nodes first (tenantctl copies local images)',
  container_name: 'swarm names each task itself',
  profiles: 'a stack has no profiles: render the template without them',
  privileged: 'swarm services cannot run privileged',
  devices: 'swarm services cannot map devices',
  security_opt: 'swarm services take no security options (no-new-privileges alone is left to the nodes\' daemon.json)',
  network_mode: 'swarm services join overlay networks only',
  pid: 'swarm services cannot share the host pid namespace',
  ipc: 'swarm services cannot share the ipc namespace',
  sysctls: 'swarm (this engine version) ignores sysctls',
  extends: 'extends must be resolved before rendering',
  env_file: 'env_file is read where compose runs; put the values in environment',
};

export function swarmRender({ rendered, directories, node, project, images, secretNames }: SwarmRenderInput): SwarmRender {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isRecord(tree) || !isRecord(tree.services)) throw new SwarmRenderError(['the file has no services']);
  // Per-user copies are compose's answer to bind-mounted secrets: folded back into the declared ones.
  foldSecretCopies(tree);
  const reasons: string[] = [];
  const notes: string[] = [];
  startAsRootForSecrets(tree.services, notes);
  const configs: Record<string, { file: string; labels?: Record<string, string> }> = {};
  const stackLabels = labelsOf(tree);

  const services: Record<string, Record<string, unknown>> = {};
  for (const [name, source] of Object.entries(tree.services)) {
    if (!isRecord(source)) {
      reasons.push(`service ${name} is not a mapping`);
      continue;
    }
    const out: Record<string, unknown> = {};
    const deploy: Record<string, unknown> = isRecord(source.deploy) ? { ...source.deploy } : {};
    const limits: Record<string, unknown> = {};
    const reservations: Record<string, unknown> = {};
    const volumes: unknown[] = [];
    const serviceConfigs: unknown[] = [];
    for (const [key, value] of Object.entries(source)) {
      if (passThrough.has(key)) out[key] = value;
      else if (key in refused && !(key === 'security_opt' && noNewPrivilegesOnly(value))) reasons.push(`service ${name}: ${key}: ${refused[key]}`);
      else if (key === 'deploy') continue; // merged above
      else if (key === 'mem_limit') limits.memory = String(value);
      else if (key === 'mem_reservation') reservations.memory = String(value);
      else if (key === 'cpus') limits.cpus = String(value);
      else if (key === 'pids_limit') limits.pids = Number(value);
      else if (key === 'security_opt' && noNewPrivilegesOnly(value)) {
        // A service spec has no such field: the nodes' engines must set it for every container
        // ("no-new-privileges": true in daemon.json). Said in the notes rather than refused, so the
        // shipped templates, which ask for it, still deploy.
        notes.push(`service ${name}: security_opt no-new-privileges dropped (swarm services cannot set it; set "no-new-privileges": true in each node's daemon.json)`);
      }
      else if (key === 'restart') deploy.restart_policy = { condition: restartCondition(String(value)) };
      else if (key === 'depends_on') {
        const conditions = isRecord(value) ? Object.entries(value).map(([dep, spec]) => [dep, isRecord(spec) ? String(spec.condition ?? 'service_started') : 'service_started'] as const) : [];
        const blocking = conditions.filter(([, condition]) => condition !== 'service_started');
        if (blocking.length > 0) reasons.push(`service ${name}: depends_on ${blocking.map(([dep, c]) => `${dep} (${c})`).join(', ')}: swarm starts services in no order and cannot wait for a condition; make the service retry instead`);
        else notes.push(`service ${name}: depends_on dropped (swarm starts services in no order; the service retries its connections)`);
      } else if (key === 'tmpfs') {
        for (const entry of Array.isArray(value) ? value : [value]) volumes.push(tmpfsMount(String(entry)));
      } else if (key === 'ports') {
        out.ports = (Array.isArray(value) ? value : []).map((port) => hostModePort(port, name, reasons));
      } else if (key === 'secrets') {
        out.secrets = (Array.isArray(value) ? value : []).map((secret) =>
          typeof secret === 'string' ? { source: secret, target: secret, mode: 0o400 } : isRecord(secret) ? { mode: 0o400, ...secret } : secret,
        );
      } else if (key === 'volumes') {
        for (const mount of Array.isArray(value) ? value : []) {
          const bind = relativeBind(mount);
          if (!bind) {
            volumes.push(mount);
            continue;
          }
          const files = directories[bind.source] ?? directories[`./${path.posix.normalize(bind.source)}`];
          if (!files) {
            reasons.push(`service ${name}: ${bind.source} is bind-mounted from this machine and is not a directory tenantctl can turn into swarm configs`);
            continue;
          }
          for (const file of files) {
            const configName = `${bind.source.replace(/^\.\//, '').replace(/[^A-Za-z0-9]+/g, '-')}-${file.replace(/[^A-Za-z0-9]+/g, '-')}`;
            configs[configName] = { file: path.posix.join(bind.source, file), ...(stackLabels ? { labels: stackLabels } : {}) };
            serviceConfigs.push({ source: configName, target: path.posix.join(bind.target, file), mode: 0o555 });
          }
          notes.push(`service ${name}: ${bind.source} -> swarm configs at ${bind.target}`);
        }
      } else reasons.push(`service ${name}: ${key} is not translated to a swarm stack`);
    }
    if (Object.keys(limits).length || Object.keys(reservations).length) {
      deploy.resources = { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(reservations).length ? { reservations } : {}) };
    }
    // One task per service: stop and start scale to 0 and back to 1 (runtime/swarm-runtime.ts), and
    // one node's volumes hold the service's state.
    if (deploy.mode !== undefined && deploy.mode !== 'replicated') reasons.push(`service ${name}: deploy.mode ${String(deploy.mode)}: a tenant's services run one replicated task each`);
    if (deploy.replicas !== undefined && Number(deploy.replicas) !== 1) reasons.push(`service ${name}: deploy.replicas ${String(deploy.replicas)}: a tenant's services run one task each (its state is on one node's volumes; stop and start scale to 0 and back to 1)`);
    deploy.placement = { constraints: [`node.hostname == ${node}`] };
    // DNS round robin instead of a virtual IP: swarm's VIPs are IPVS, which not every kernel has,
    // and a tenant's services run one task each anyway. Host-mode ports work with it.
    deploy.endpoint_mode = 'dnsrr';
    if (isRecord(out.labels)) deploy.labels = out.labels;
    if (project) out.labels = { ...(isRecord(out.labels) ? out.labels : {}), 'com.docker.compose.project': project, 'com.docker.compose.service': name };
    if (typeof out.image === 'string' && images?.[out.image]) out.image = images[out.image];
    if (volumes.length) out.volumes = volumes;
    if (serviceConfigs.length) out.configs = serviceConfigs;
    out.deploy = deploy;
    services[name] = out;
  }

  const networks: Record<string, unknown> = {};
  for (const [name, network] of Object.entries(isRecord(tree.networks) ? tree.networks : {})) {
    const definition = isRecord(network) ? { ...network } : {};
    if (definition.driver === undefined || definition.driver === 'bridge') {
      definition.driver = 'overlay';
      notes.push(`network ${name}: overlay (one per tenant, across the swarm)`);
    }
    networks[name] = definition;
  }
  const secrets: Record<string, unknown> = {};
  for (const [name, secret] of Object.entries(isRecord(tree.secrets) ? tree.secrets : {})) {
    if (!isRecord(secret) || typeof secret.file !== 'string') {
      reasons.push(`secret ${name}: only file secrets are turned into swarm secrets`);
      continue;
    }
    secrets[name] = { file: secret.file, ...(secretNames?.[name] ? { name: secretNames[name] } : {}), ...(stackLabels ? { labels: stackLabels } : {}) };
  }
  if (reasons.length > 0) throw new SwarmRenderError(reasons);

  // 3.9: the first stack file version with deploy.resources.limits.pids.
  const stack: Record<string, unknown> = { version: '3.9', services };
  if (Object.keys(networks).length) stack.networks = networks;
  if (isRecord(tree.volumes)) stack.volumes = tree.volumes;
  if (Object.keys(secrets).length) stack.secrets = secrets;
  if (Object.keys(configs).length) stack.configs = configs;
  // YAML 1.1 quoting: yes/no/on/off stay strings for parsers that read 1.1 (the docker CLI's, PyYAML's).
  return { text: stringify(stack, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false }), notes };
}

/** security_opt asking for no-new-privileges and nothing else. */
function noNewPrivilegesOnly(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((opt) => /^no-new-privileges(:true|=true)?$/.test(String(opt)));
}

function restartCondition(restart: string): 'none' | 'on-failure' | 'any' {
  if (restart === 'no') return 'none';
  if (restart.startsWith('on-failure')) return 'on-failure';
  return 'any'; // always, unless-stopped
}

/** "64k" -> bytes, for a tmpfs size. */
function sizeInBytes(size: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(size.trim());
  if (!match) return 0;
  return Number(match[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[match[2]!.toLowerCase()]!;
}

/** "/run/x:mode=0700,size=64k" -> a tmpfs mount (swarm takes its size; the mode is the engine's default 1777). */
function tmpfsMount(entry: string): Record<string, unknown> {
  const [target, options = ''] = entry.split(':');
  const size = /(?:^|,)size=([^,]+)/.exec(options)?.[1];
  return { type: 'tmpfs', target, ...(size ? { tmpfs: { size: sizeInBytes(size) } } : {}) };
}

/** "[ip:]published:target[/proto]" or the long form -> published on the task's node (host mode). */
function hostModePort(port: unknown, service: string, reasons: string[]): unknown {
  if (isRecord(port)) return { ...port, mode: 'host' };
  const match = /^(?:[\d.]+:)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(String(port));
  if (!match) {
    reasons.push(`service ${service}: port ${JSON.stringify(port)} needs a fixed published port`);
    return port;
  }
  return { target: Number(match[2]), published: Number(match[1]), protocol: match[3] ?? 'tcp', mode: 'host' };
}

/**
 * On a swarm, a service that reads secrets starts as root, as every one did before the templates
 * named their users: its entrypoint copies the root-owned 0400 secrets into a /run/tenantctl tmpfs
 * for its user and drops to it (with back only the capabilities that takes). Its non-root start
 * needs tmpfs mounts owned by its uid, which a swarm service's tmpfs cannot be (no owner option),
 * so here it keeps the old start; services without secrets keep their user.
 */
function startAsRootForSecrets(services: Record<string, unknown>, notes: string[]): void {
  for (const [name, service] of Object.entries(services)) {
    if (!isRecord(service) || !numericUser(service.user) || !Array.isArray(service.secrets) || service.secrets.length === 0) continue;
    delete service.user;
    const caps = Array.isArray(service.cap_add) ? service.cap_add.map(String) : [];
    service.cap_add = [...new Set([...caps, ...rootEntrypointCaps])];
    const tmpfs = Array.isArray(service.tmpfs) ? service.tmpfs.map(String) : service.tmpfs === undefined ? [] : [String(service.tmpfs)];
    if (!tmpfs.some((entry) => entry.split(':')[0] === '/run/tenantctl')) service.tmpfs = [...tmpfs, '/run/tenantctl:mode=0700,size=64k'];
    notes.push(`service ${name}: starts as root to copy its secrets for its user (a swarm tmpfs cannot be given to its uid)`);
  }
}
