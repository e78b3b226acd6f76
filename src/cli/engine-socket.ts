import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const defaultSocket = '/var/run/docker.sock';

/**
 * The local engine's socket, if the docker CLI would talk to it too: DOCKER_HOST unset and no
 * docker context chosen (DOCKER_CONTEXT, or currentContext in the CLI's config.json). With a
 * context pointing elsewhere, quick questions over the socket would ask a different engine than
 * compose talks to, so then everything goes through the CLI (undefined).
 */
export function localEngineSocket(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DOCKER_HOST) return undefined;
  if (env.DOCKER_CONTEXT && env.DOCKER_CONTEXT !== 'default') return undefined;
  const configDir = env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  try {
    const current = (JSON.parse(readFileSync(path.join(configDir, 'config.json'), 'utf8')) as { currentContext?: unknown }).currentContext;
    if (typeof current === 'string' && current !== '' && current !== 'default') return undefined;
  } catch {
    // No config file (or an unreadable one, which the CLI would not use either): the default context.
  }
  return defaultSocket;
}
