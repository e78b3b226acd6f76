// The environment of every program tenantctl runs (docker, compose, ssh, psql in the foreground):
// an allowlist of what those programs need from the operator's environment, never all of it.
// Compose interpolates `${VAR}` from its environment into the containers it creates, and a docker
// or compose plugin sees whatever it is given: tenantctl's own settings (TENANTCTL_*, above all
// TENANTCTL_MASTER_KEY, the key of every sealed secret) and anything else the operator's shell
// holds (cloud tokens, database URLs) must not reach them. Values a call needs it passes itself
// (RunOptions.env: a DockerHost's DOCKER_HOST, a password for `docker exec -e NAME`, ...).
//
// The CLI sets the base once (cli/context.ts, the only reader of the process environment); until it
// has, the base is this process's environment, filtered the same way.

/** Names passed on as they are. */
const passedNames = new Set([
  // Finding programs, their per-user files, temporary files, the terminal and the language.
  'PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TERM', 'LANG', 'LANGUAGE', 'TZ',
  // Where Docker is and how to reach it (rootless Docker's socket lives in XDG_RUNTIME_DIR).
  'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS', 'DOCKER_TLS_VERIFY', 'XDG_RUNTIME_DIR',
  // ssh:// engines: the agent holding the operator's key.
  'SSH_AUTH_SOCK',
]);
/** Prefixes passed on: the locale's categories. */
const passedPrefixes = ['LC_'];

/** What a child may see of `env`: the allowlist above, nothing else (no TENANTCTL_*, no COMPOSE_*). */
export function scrubbedEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (passedNames.has(name) || passedPrefixes.some((prefix) => name.startsWith(prefix))) kept[name] = value;
  }
  return kept;
}

let base: Record<string, string> | undefined;

/** Called once by the CLI with the process environment. */
export function setChildEnvironmentBase(env: Readonly<Record<string, string | undefined>>): void {
  base = scrubbedEnvironment(env);
}

/** A child's whole environment: the scrubbed base, then what the call itself passes (it wins). */
export function childEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  // Only before the CLI set the base (unit tests, scripts): filtered all the same.
  base ??= scrubbedEnvironment(process.env);
  return { ...base, ...extra };
}
