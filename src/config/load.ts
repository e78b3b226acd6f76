import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { parseDocument } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { envOverrides } from './env-overrides.js';
import { defaultTemplatePath } from '../common/paths.js';

export const defaultConfigFile = 'tenantctl.config.yaml';

export interface LoadConfigInput {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** --config or TENANTCTL_CONFIG; when absent, ./tenantctl.config.yaml is used if it exists. */
  file?: string;
}

export type LoadConfigResult = { config: Config; errors: [] } | { config: undefined; errors: string[] };

/**
 * Reads the optional config file, applies TENANTCTL_* overrides and validates the result.
 * Problems come back as `dot.path: message` lines (all of them, not just the first).
 */
export function loadConfig({ cwd, env, file }: LoadConfigInput): LoadConfigResult {
  const explicit = file ?? env.TENANTCTL_CONFIG;
  const configPath = path.resolve(cwd, explicit ?? defaultConfigFile);
  const errors: string[] = [];
  let raw: Record<string, unknown> = {};

  if (explicit !== undefined && !existsSync(configPath)) {
    return { config: undefined, errors: [`${configPath}: file not found`] };
  }
  if (existsSync(configPath)) {
    const document = parseDocument(readFileSync(configPath, 'utf8'));
    if (document.errors.length > 0) {
      return { config: undefined, errors: document.errors.map((e) => `${configPath}: ${e.message.split('\n')[0]}`) };
    }
    const value = document.toJS() ?? {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      return { config: undefined, errors: [`${configPath}: must be a mapping of settings`] };
    }
    raw = value as Record<string, unknown>;
  }

  const fromEnv = new Map<string, string>();
  for (const { env: name, path: keyPath, parse } of envOverrides) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, keyPath, parse(value));
    fromEnv.set(keyPath.join('.'), name);
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const dotPath = issue.path.join('.') || '(root)';
      const source = fromEnv.get(dotPath) ?? fromEnv.get(issue.path.slice(0, -1).join('.'));
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      errors.push(`${dotPath}${source ? ` (${source})` : ''}: ${issue.message}${keys}`);
    }
    return { config: undefined, errors };
  }

  const config = parsed.data;
  const resolveIn = (p: string) => path.resolve(cwd, p);
  const stateDir = config.stateDir === undefined ? defaultStateDir(env) : resolveIn(config.stateDir);
  return {
    config: {
      ...config,
      customersDir: resolveIn(config.customersDir),
      stateDir,
      backupsDir: config.backupsDir === undefined ? path.join(stateDir, 'backups') : resolveIn(config.backupsDir),
      tenantMigrationsDir: config.tenantMigrationsDir === undefined ? undefined : resolveIn(config.tenantMigrationsDir),
      templatePath: raw.templatePath === undefined ? defaultTemplatePath : resolveIn(config.templatePath),
      templates: { ...config.templates, directory: config.templates.directory === undefined ? undefined : resolveIn(config.templates.directory) },
      backups: {
        ...config.backups,
        // A local repository path is relative to where tenantctl runs, like every path of the config.
        repository: config.backups.repository === undefined || /^[a-z0-9]+:/.test(config.backups.repository) ? config.backups.repository : resolveIn(config.backups.repository),
        sshKey: config.backups.sshKey === undefined ? undefined : resolveIn(config.backups.sshKey),
        sshKnownHosts: config.backups.sshKnownHosts === undefined ? undefined : resolveIn(config.backups.sshKnownHosts),
      },
      frontdoor: { ...config.frontdoor, acme: { ...config.frontdoor.acme, caBundle: config.frontdoor.acme.caBundle === undefined ? undefined : resolveIn(config.frontdoor.acme.caBundle) } },
    },
    errors: [],
  };
}

/** One state dir per user, wherever tenantctl runs from: it holds the local admin database's password. */
function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'tenantctl');
}

function setPath(target: Record<string, unknown>, keyPath: string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keyPath[keyPath.length - 1]!] = value;
}
