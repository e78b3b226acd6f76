// Pure construction of compose command lines, kept apart from running them so it can be unit-tested.
// Flags that belong before the verb (-p, -f, --env-file) are kept apart from the verb's own flags.

export type ComposeFlavour = 'v2' | 'v1';

export interface ComposeTarget {
  project: string;
  file: string;
  envFile?: string;
  /** Compose profiles switched on (a template's optional parts, provision --with). */
  profiles?: readonly string[];
}

export function composeArgv(flavour: ComposeFlavour, target: ComposeTarget, verb: readonly string[]): string[] {
  const global = ['-p', target.project, '-f', target.file];
  if (target.envFile) global.push('--env-file', target.envFile);
  for (const profile of target.profiles ?? []) global.push('--profile', profile);
  return flavour === 'v2' ? ['docker', 'compose', ...global, ...verb] : ['docker-compose', ...global, ...verb];
}

export function upVerb(services: readonly string[] = []): string[] {
  // --remove-orphans: a service dropped from the template must not linger on the tenant network.
  return ['up', '-d', '--remove-orphans', ...services];
}

export function downVerb({ removeVolumes, timeoutSeconds }: { removeVolumes: boolean; timeoutSeconds: number }): string[] {
  // Only named volumes that the file declares are removed by -v; external ones never are.
  return ['down', '--remove-orphans', '--timeout', String(timeoutSeconds), ...(removeVolumes ? ['-v'] : [])];
}

/** Compose >= 2.5.1 validates project names strictly; we hold ours to the same rule for both flavours. */
export const projectNamePattern = /^[a-z0-9][a-z0-9_-]*$/;

export function projectName(prefix: string, tenantId: string): string {
  const name = `${prefix}-${tenantId}`;
  if (!projectNamePattern.test(name)) throw new Error(`invalid compose project name ${JSON.stringify(name)}`);
  return name;
}

/** Host ports compose/Docker reported as taken, so allocation can step around them and retry. */
export function portsReportedTaken(stderr: string): number[] {
  const found = new Set<number>();
  const patterns = [
    /Bind for [^\s:]*:(\d+) failed: port is already allocated/g,
    /listen tcp4? [^\s:]*:(\d+): bind: address already in use/g,
    /:(\d+): bind: address already in use/g,
  ];
  for (const pattern of patterns) for (const match of stderr.matchAll(pattern)) found.add(Number(match[1]));
  return [...found];
}

/** Docker refused the network because its subnet overlaps another network on the host. */
export const subnetReportedTaken = (stderr: string) => /Pool overlaps with other one on this address space/i.test(stderr);
