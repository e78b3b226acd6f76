import { existsSync } from 'node:fs';
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { TenantctlError } from '../common/errors.js';
import { writePrivateFile } from '../common/private-files.js';
import { done, notYet, retryUntilDeadline, type Attempt } from '../common/retry.js';
import { frontdoorReloadDeadlineMs, frontdoorTestTimeoutMs, frontdoorUpTimeoutMs, probeConnectTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { Config } from '../config/schema.js';
import type { DockerHost } from '../engine/docker-host.js';
import { composeOn } from '../stack/compose.js';
import type { ContainerState } from '../engine/docker.js';
import { projectContainers } from '../stack/project-state.js';
import { containerConfDir, type FrontdoorLayout } from './layout.js';
import { statusHost } from './render.js';
import { containerUsageDir, containerVerdictCacheDir } from './render-api-keys.js';
import { containerAcmeCertsDir, containerChallengeDir } from './render-acme.js';

// The front door's own compose project: nginx and the gateway, both in the Docker host's network
// namespace (network_mode: host). Why host networking:
//  - tenants' apps publish their port on bindAddress (127.0.0.1 by default), which only the host's
//    own namespace can reach. host-gateway (extra_hosts, Engine 20.10+) reaches the host through the
//    docker0 bridge address, where a port bound to 127.0.0.1 does not answer; it would need every
//    tenant app published on 0.0.0.0 or the bridge address, i.e. exposed further.
//  - joining every tenant network would make the front door a member of each tenant's private
//    network (next to its PostgreSQL and Redis), cost a `docker network connect` per provision and
//    a container with hundreds of interfaces; it would also break the isolation a network per
//    tenant is for.
//  - nginx then dials tenants' apps exactly where tenantctl's own readiness probes do, the gateway
//    reaches the admin database where tenantctl does (127.0.0.1:5433 for the local one), and the
//    listening side has no userland proxy or NAT in front of it.
// The price: nginx listens directly on the host (frontdoor.listenAddress, httpPort, httpsPort) and
// the gateway on 127.0.0.1:gatewayPort; both are tenantctl's choice, not the container's.

export const nginxContainer = (config: Config) => `${config.frontdoor.project}-nginx`;
/** What the nginx image runs: nginx as PID 1 with the usage log's rotator beside it (images/nginx/frontdoor-nginx). */
export const nginxEntrypoint = 'frontdoor-nginx';
export const gatewayContainer = (config: Config) => `${config.frontdoor.project}-gateway`;
export const frontdoorLabel = 'tenantctl.frontdoor';
/**
 * The usage files' volume (<project>_usage): a Docker volume rather than a folder of the state dir,
 * because nginx's workers (uid 33) must be able to write it, and on the host uid 33 is whoever has
 * it (www-data of the host's own web server): a host folder writable by it let any such process
 * add usage lines (review 2026-12-05 item 18). A volume is reachable only through Docker.
 */
export const usageVolume = 'usage';

/**
 * ACME's HTTP-01 tokens (acme/challenges.ts) and the certificates (each name's combined PEM), both
 * read-only: nginx serves and reads them, tenantctl (and the agent's renewal) writes them.
 */
const acmeVolumes = (layout: FrontdoorLayout, acme: boolean | undefined) => (acme ? [`${layout.acmeChallengesDir}:${containerChallengeDir}:ro`, `${layout.acmeCertsDir}:${containerAcmeCertsDir}:ro`] : []);

/** Writes the front door's compose file; true when its content changed (a front door set up by an older tenantctl, or other settings). */
export async function writeComposeFile(config: Config, layout: FrontdoorLayout, options: { acme?: boolean } = {}): Promise<boolean> {
  const labels = { [frontdoorLabel]: config.frontdoor.project };
  const logging = { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } };
  // As every tenant's services (docs/templates.md, "Hardening"): every capability dropped (each adds
  // back only what it needs, below), no-new-privileges, a read-only image filesystem and a ceiling
  // on processes and threads (nginx: a master, its workers and the rotator; the gateway: one Node).
  const hardening = { cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'], read_only: true, pids_limit: 256 };
  const document = {
    services: {
      nginx: {
        image: config.frontdoor.images.nginx,
        container_name: nginxContainer(config),
        network_mode: 'host',
        restart: 'unless-stopped',
        // nginx as PID 1, with the usage log's rotator beside it (images/nginx/frontdoor-nginx).
        command: [nginxEntrypoint, `${containerConfDir}/live/nginx.conf`, containerUsageDir],
        volumes: [`${layout.confDir}:${containerConfDir}:ro`, `${usageVolume}:${containerUsageDir}`, ...acmeVolumes(layout, options.acme)],
        // The gateway's verdicts are cached with the presented key in their cache key: memory only.
        // nginx's pid file, its temporary files and its default error log in memory too: the image's
        // filesystem is read-only.
        tmpfs: [`${containerVerdictCacheDir}:mode=0700,size=64m`, '/run:size=1m', '/var/lib/nginx:size=64m', '/var/log/nginx:size=1m', '/tmp:size=16m'],
        ...hardening,
        // The master (root) binds 80/443 on the host, opens the usage log in the usage directory
        // (www-data's, group nogroup, 2770: DAC_OVERRIDE, also for the rotator's renames there) and
        // creates its temporary directories for the workers (CHOWN), which it starts as www-data
        // (SETUID, SETGID).
        cap_add: ['NET_BIND_SERVICE', 'CHOWN', 'DAC_OVERRIDE', 'SETUID', 'SETGID'],
        // The gateway sets the usage directory's owner and mode before nginx writes into it.
        depends_on: ['gateway'],
        labels,
        logging,
        stop_grace_period: '15s',
      },
      gateway: {
        image: config.frontdoor.images.gateway,
        container_name: gatewayContainer(config),
        network_mode: 'host',
        restart: 'unless-stopped',
        volumes: [`${layout.gatewayConfig}:/etc/tenantctl-gateway/config.json:ro`, `${usageVolume}:${containerUsageDir}`],
        tmpfs: ['/tmp:size=16m'],
        ...hardening,
        // As root it reads its 0600 configuration (DAC_OVERRIDE when the operator is not root), gives
        // the usage directory to www-data and nogroup (CHOWN) with the setgid bit (FOWNER, FSETID),
        // then drops to nobody (SETUID, SETGID), which clears them all. KILL is tini's (PID 1, root,
        // keeps its capabilities): without it tini may not forward Docker's SIGTERM to the gateway,
        // which runs as nobody by then ("Unexpected error when forwarding signal: 'Operation not
        // permitted'"), and exits, which kills the gateway: no last flush, and a kill between a
        // batch's commit and its files' delete counts that batch twice. Node, as nobody, has none.
        cap_add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETUID', 'SETGID', 'KILL'],
        labels,
        logging,
        stop_grace_period: '10s',
      },
    },
    // Kept by `frontdoor down` (lines not yet counted are counted at the next start).
    volumes: { [usageVolume]: { labels } },
  };
  const content = `# Rendered by tenantctl frontdoor init; nginx and the gateway of the front door.\n${stringify(document)}`;
  const before = await readFile(layout.composeFile, 'utf8').catch(ignoreFailure('no file yet: written below (which reports a file that cannot be written)'));
  if (before === content) return false;
  await writeFile(layout.composeFile, content);
  return true;
}

/**
 * Whether a door's compose file (its text) mounts the ACME certificates folder into nginx, which the
 * configuration reads ACME certificates from since migration 025's release: a door set up by an
 * older tenantctl does not.
 */
export function mountsAcmeCerts(composeText: string | undefined): boolean {
  return composeText !== undefined && composeText.includes(`:${containerAcmeCertsDir}:ro`);
}

/** The gateway's settings, with its own admin database URL (gateway-role.ts): 0600, read by the gateway as root before it drops to nobody. */
export async function writeGatewayConfig(config: Config, layout: FrontdoorLayout, databaseUrl: string): Promise<void> {
  await writePrivateFile(layout.gatewayConfig, `${JSON.stringify({
    databaseUrl,
    host: '127.0.0.1',
    port: config.frontdoor.gatewayPort,
    keyCacheMs: Math.round(config.frontdoor.keyCacheSeconds * 1000),
    flushMs: Math.round(config.frontdoor.usageFlushSeconds * 1000),
    modulePaths: config.frontdoor.modulePaths,
    usageDir: containerUsageDir,
  }, null, 2)}\n`);
}

export async function frontdoorUp(host: DockerHost, config: Config, layout: FrontdoorLayout, signal?: AbortSignal, services?: string[]): Promise<void> {
  const compose = await composeOn(host);
  await compose.up({ project: config.frontdoor.project, file: layout.composeFile }, { timeoutMs: frontdoorUpTimeoutMs, signal, services });
}

export async function frontdoorDown(host: DockerHost, config: Config, layout: FrontdoorLayout): Promise<void> {
  const compose = await composeOn(host);
  await compose.down({ project: config.frontdoor.project, file: layout.composeFile }, { timeoutMs: frontdoorUpTimeoutMs, removeVolumes: false });
}

export async function frontdoorContainers(host: DockerHost, config: Config, signal?: AbortSignal): Promise<ContainerState[]> {
  return projectContainers(host, config.frontdoor.project, signal);
}

export interface TestOutcome {
  ok: boolean;
  /** nginx's [emerg]/[error] lines. */
  errors: string[];
}

/**
 * `nginx -t` of a generation: in the running nginx container (same binary, same mounts), else in a
 * throwaway one. -t parses everything, loads every certificate and opens the usage log (a scratch
 * one in the throwaway container) but binds nothing.
 */
export async function testGeneration(host: DockerHost, config: Config, layout: FrontdoorLayout, generationDir: string, running: boolean, signal?: AbortSignal): Promise<TestOutcome> {
  const conf = `${containerConfDir}/${generationDir}/nginx.conf`;
  const argv = running
    ? ['docker', 'exec', nginxContainer(config), 'nginx', '-t', '-q', '-c', conf]
    : ['docker', 'run', '--rm', '--network', 'none', '-v', `${layout.confDir}:${containerConfDir}:ro`, ...(existsSync(layout.acmeCertsDir) ? ['-v', `${layout.acmeCertsDir}:${containerAcmeCertsDir}:ro`] : []), '--tmpfs', containerUsageDir, config.frontdoor.images.nginx, 'nginx', '-t', '-q', '-c', conf];
  const result = await host.run(argv, { timeoutMs: frontdoorTestTimeoutMs, signal });
  if (result.cancelled) throw new TenantctlError('interrupted', 'nginx -t was cancelled');
  if (result.timedOut) throw new TenantctlError('frontdoor', `nginx -t did not finish within ${frontdoorTestTimeoutMs / 1000} s`);
  const lines = result.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /\[(emerg|alert|crit|error)\]/.test(l) || /No such (container|image)|Error response/i.test(l));
  return { ok: result.exitCode === 0, errors: errors.length > 0 ? errors : lines.slice(-3) };
}

/** Tells nginx's master to reload (SIGHUP): it re-reads live/nginx.conf, starts new workers and lets old ones finish. */
export async function signalReload(host: DockerHost, config: Config, signal?: AbortSignal): Promise<void> {
  await host.docker(['kill', '--signal', 'HUP', nginxContainer(config)], { signal });
}

/** Where tenantctl dials nginx's listeners (nginx runs in the host's namespace; the engine is local). */
export function dialAddress(config: Config): string {
  return config.frontdoor.listenAddress === '0.0.0.0' ? '127.0.0.1' : config.frontdoor.listenAddress;
}

/** GET on the front door's loopback status server; the body, or why not. */
function getStatus(config: Config, path: string, signal?: AbortSignal): Promise<Attempt<string>> {
  return new Promise((resolve) => {
    const request = http.get({ host: dialAddress(config), port: config.frontdoor.httpPort, path, headers: { host: statusHost }, agent: false, timeout: probeConnectTimeoutMs, signal }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve(response.statusCode === 200 ? done(body.trim()) : notYet(`answered ${response.statusCode}`)));
    });
    request.on('timeout', () => request.destroy(new Error('no answer')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
  });
}

/** The generation nginx serves now, or undefined when it does not answer. */
export async function servedGeneration(config: Config, signal?: AbortSignal): Promise<number | undefined> {
  const answer = await getStatus(config, '/generation', signal);
  return answer.done ? Number(answer.value) : undefined;
}

/**
 * nginx's master starts the new workers of a reload, sleeps 100 ms, and only then tells the old
 * ones to stop accepting (ngx_master_process_cycle): until then a fresh connection may still reach
 * an old worker, whatever the last probe said.
 */
const oldWorkersOverlapMs = 100;
/** How long past that every probe must answer with the new generation (or, reload-in-place.ts, the new certificate). */
export const generationConfirmMs = oldWorkersOverlapMs + 50;

/** Waits until new connections are served by `generation` (after a reload or a start). */
export async function waitForGeneration(host: DockerHost, config: Config, generation: number, signal?: AbortSignal): Promise<void> {
  // Fresh connections answered by the new generation for generationConfirmMs in a row: one answer
  // only says a new worker runs, while old ones may still take connections (measured: with one
  // worker, three answers in a row let a request through to the old configuration).
  // Each try is one probe; while the window runs, a try that saw the new generation counts as
  // progress, so the next probe follows after initialDelayMs rather than a doubled pause.
  let firstSeen: number | undefined;
  await retryUntilDeadline(async () => {
    const answer = await getStatus(config, '/generation', signal);
    if (!answer.done) return (firstSeen = undefined, answer);
    if (Number(answer.value) !== generation) return (firstSeen = undefined, notYet(`nginx still serves generation ${answer.value}`));
    firstSeen ??= Date.now();
    if (Date.now() - firstSeen >= generationConfirmMs) return done(undefined);
    return notYet(`nginx serves generation ${generation}; old workers may still take connections`, true);
  }, {
    what: `waiting for nginx to serve generation ${generation}`,
    deadlineMs: frontdoorReloadDeadlineMs,
    signal,
    initialDelayMs: 20,
    maxDelayMs: 500,
    onDeadline: (why) => new TenantctlError('frontdoor', `nginx did not take up generation ${generation} within ${frontdoorReloadDeadlineMs / 1000} s (${why})`),
  }).catch(async (error) => {
    if (!(error instanceof TenantctlError) || error.kind !== 'frontdoor') throw error;
    const log = await host.run(['docker', 'logs', '--tail', '3', nginxContainer(config)], { timeoutMs: 10_000 }).then((r) => r.stderrTail.split('\n').slice(-3).join(' | '), () => 'unavailable');
    throw new TenantctlError('frontdoor', `${error.message}; nginx's log: ${log}`);
  });
}

/** Waits until the gateway answers /healthz (it reached the admin database). */
export async function waitForGateway(config: Config, signal?: AbortSignal): Promise<void> {
  await retryUntilDeadline(() => new Promise<Attempt<void>>((resolve) => {
    const request = http.get({ host: '127.0.0.1', port: config.frontdoor.gatewayPort, path: '/healthz', agent: false, timeout: probeConnectTimeoutMs, signal }, (response) => {
      response.resume();
      resolve(response.statusCode === 200 ? done(undefined) : notYet(`answered ${response.statusCode}`));
    });
    request.on('timeout', () => request.destroy(new Error('no answer')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
  }), {
    what: 'waiting for the gateway',
    deadlineMs: frontdoorUpTimeoutMs,
    signal,
    onDeadline: (why) => new TenantctlError('frontdoor', `the gateway did not answer on 127.0.0.1:${config.frontdoor.gatewayPort} (${why}); see docker logs ${gatewayContainer(config)}`),
  });
}

