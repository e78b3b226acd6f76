import path from 'node:path';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { Context } from '../context.js';
import type { Config } from '../config/schema.js';
import { TenantctlError } from '../common/errors.js';
import { defaultTemplatePath } from '../common/paths.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { masterKeyFile } from '../secrets/master-key.js';
import { agentContainer, agentLabel, imagePackageRoot, type AgentLayout } from './layout.js';
import { missingMeans } from '../common/ignore-failure.js';

// The agent's compose project: one container, in the host's network namespace (like the front
// door: it reaches the admin database where tenantctl does, 127.0.0.1:5433 for the local one, and
// tenants' ports bound to 127.0.0.1; its own server listens on 127.0.0.1 only). It has what the
// verbs it runs use, each directory at the same path as on the host so that compose files and
// bind mounts mean the same inside and out: the Docker socket, customers/ (read-only), backupsDir,
// the operator's templates (read-only), the master key file (read-only) and its own folder. Not
// the state dir: the admin database owner's password (admin-db.env) and the gateway's stay out.
// With an ACME front door, what its certificate renewal needs of the door and no more
// (frontdoor/acme/agent-access.ts).

/** The engine's unix socket this environment uses; the agent needs a local engine (its own host's). */
export function engineSocket(ctx: Context): string {
  const endpoint = ctx.homeHost.endpoint;
  if (endpoint.kind === 'unix') return endpoint.url.slice('unix://'.length);
  if (endpoint.kind === 'local') return '/var/run/docker.sock';
  throw new TenantctlError('usage', `the agent runs on the Docker host it serves: run tenantctl agent up on that host (DOCKER_HOST is ${endpoint.url})`);
}

/** The agent's configuration: the operator's, with the agent's own database login and state dir. Returns its content. */
export async function writeAgentConfig(config: Config, layout: AgentLayout, databaseUrl: string): Promise<string> {
  const own: Record<string, unknown> = {
    ...config,
    stateDir: layout.stateDir,
    adminDatabase: { ...config.adminDatabase, url: databaseUrl },
  };
  // The shipped default template is the image's own copy (its package root differs from this one's).
  if (config.templatePath === defaultTemplatePath) delete own.templatePath;
  const content = `# Written by tenantctl agent up: the agent's configuration (its admin database login: keep private).\n${stringify(own)}`;
  await ensurePrivateDir(layout.root);
  await ensurePrivateDir(layout.stateDir);
  await writePrivateFile(layout.configFile, content);
  return content;
}

/** The master key file the agent reads (mounted read-only): the operator's, or a private copy of TENANTCTL_MASTER_KEY. */
export async function agentMasterKeyFile(ctx: Context, layout: AgentLayout): Promise<string> {
  const file = masterKeyFile(ctx.env, ctx.config.stateDir);
  if (existsSync(file)) return file;
  if (ctx.env.TENANTCTL_MASTER_KEY) {
    // The agent takes no secret from its environment (docker inspect shows it): a 0600 file instead.
    await writePrivateFile(layout.masterKeyCopy, `${ctx.env.TENANTCTL_MASTER_KEY.trim()}\n`);
    return layout.masterKeyCopy;
  }
  throw new TenantctlError('usage', `master key missing: the agent opens tenants' sealed secrets for their backups; set TENANTCTL_MASTER_KEY or create ${file} (provision does)`);
}

export interface ComposeInputs {
  image: string;
  socket: string;
  masterKey: string;
  configContent: string;
  /** An ACME door on this host: what its certificate renewal is given (frontdoor/acme/agent-access.ts). */
  extraMounts?: { source: string; target: string; mode: 'ro' | 'rw' }[];
}

/** Writes the agent's compose file; true when it changed (compose then recreates the container). */
export async function writeAgentCompose(ctx: Context, layout: AgentLayout, inputs: ComposeInputs): Promise<boolean> {
  const config = ctx.config;
  const same = (dir: string, mode: 'ro' | 'rw') => `${dir}:${dir}:${mode}`;
  const volumes = [
    same(inputs.socket, 'rw'),
    same(layout.root, 'rw'),
    same(config.customersDir, 'ro'),
    same(config.backupsDir, 'rw'),
    same(inputs.masterKey, 'ro'),
  ];
  for (const m of inputs.extraMounts ?? []) volumes.push(`${m.source}:${m.target}:${m.mode}`);
  // The backup repository (src/repository/): an sftp repository's ssh key and known_hosts, read-only;
  // a local one, read-write. Its password comes sealed through the admin database, never a mount.
  for (const file of [config.backups.sshKey, config.backups.sshKnownHosts]) if (file && existsSync(file)) volumes.push(same(file, 'ro'));
  if (config.backups.repository && path.isAbsolute(config.backups.repository.replace(/^local:/, ''))) {
    const dir = config.backups.repository.replace(/^local:/, '');
    if (existsSync(dir)) volumes.push(same(dir, 'rw'));
  }
  for (const dir of [config.templates.directory, config.tenantMigrationsDir, config.templatePath === defaultTemplatePath ? undefined : path.dirname(config.templatePath)]) {
    if (dir && existsSync(dir)) volumes.push(same(dir, 'ro'));
  }
  const environment: Record<string, string> = {
    TENANTCTL_HOST_ID: ctx.homeHost.id,
    TENANTCTL_ACTOR: `agent:${config.agent.project}@${ctx.homeHost.id}`,
    TENANTCTL_MASTER_KEY_FILE: inputs.masterKey,
    DOCKER_HOST: `unix://${inputs.socket}`,
    HOME: '/tmp',
  };
  if (ctx.env.TENANTCTL_COMPOSE) environment.TENANTCTL_COMPOSE = ctx.env.TENANTCTL_COMPOSE;
  // Tests stop the agent at named steps (common/pause-points.ts): the names and the file are passed on.
  if (ctx.env.TENANTCTL_PAUSE_AT && ctx.env.TENANTCTL_PAUSE_FILE) {
    environment.TENANTCTL_PAUSE_AT = ctx.env.TENANTCTL_PAUSE_AT;
    environment.TENANTCTL_PAUSE_FILE = path.resolve(ctx.env.TENANTCTL_PAUSE_FILE);
    volumes.push(same(path.dirname(environment.TENANTCTL_PAUSE_FILE), 'rw'));
  }
  // As the operator (who owns customers/, backupsDir and the agent's files), in the socket's group.
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const socketGid = (await stat(inputs.socket)).gid;
  const labels = { [agentLabel]: config.agent.project, 'tenantctl.agent.config': createHash('sha256').update(inputs.configContent).digest('hex').slice(0, 16) };
  const document = {
    services: {
      agent: {
        image: inputs.image,
        container_name: agentContainer(config),
        network_mode: 'host',
        restart: 'unless-stopped',
        command: ['node', `${imagePackageRoot}/bin/tenantctl.js`, '-c', layout.configFile, 'agent', 'run'],
        user: `${uid}:${gid}`,
        ...(uid !== 0 && socketGid !== gid ? { group_add: [String(socketGid)] } : {}),
        environment,
        volumes: [...new Set(volumes)],
        // As the front door's: no capability (it talks to Docker over the socket; files are its
        // user's), no new privileges, a read-only image, a ceiling on processes.
        cap_drop: ['ALL'],
        security_opt: ['no-new-privileges:true'],
        read_only: true,
        tmpfs: ['/tmp:size=64m'],
        pids_limit: 512,
        // A leaking or runaway agent (a stuck backup's buffers) cannot starve the host's tenants.
        mem_limit: config.agent.memLimit,
        cpus: config.agent.cpus,
        labels,
        logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
        // The agent ends its ticks in flight within 25 s of SIGTERM (run.ts).
        stop_grace_period: '30s',
      },
    },
  };
  const content = `# Rendered by tenantctl agent up: the tenantctl agent of this Docker host.\n${stringify(document)}`;
  const before = await readFile(layout.composeFile, 'utf8').catch(missingMeans(undefined)); // none yet (first agent up): everything is a change
  if (before === content) return false;
  await writeFile(layout.composeFile, content, { mode: 0o600 });
  return true;
}
