// The front door against the keep-alive close race with a tenant's app, made certain (the defect
// behind bench/frontdoor.mjs's 5,298 503s in one second, issue 21): an app server closes a
// keep-alive connection it has kept idle for its own timeout (the tenant app, Node: 5 s), and a
// request nginx sends on that connection just then is lost. Here the requests the door sends to the
// app shortly before the app's 5 s are held back (an iptables rule in the app container's network
// namespace, set by a helper container that shares it; the TCP stack retransmits them once the rule
// is gone) until the app has closed its idle connections. With the door's old upstream (nginx's
// default 60 s keep-alive, the published port as a backup that could be set aside too) the first
// round set the container's address aside for 30 s, the second set the published port aside, and
// the door answered 503 at once to every request ("no live upstreams"). Now nginx ends idle
// connections after appIdleKeepaliveSeconds, before any app does, and the backup is never set aside.
// Real parts throughout: the CLI, a provisioned tenant, the door's nginx and gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import http from 'node:http';
import { containerOf, createHarness, useOwnFrontdoor, type Harness } from './harness.js';
import { ensureEngineImage, engineImage } from './engines.js';

let h: Harness;
let ports: { http: number; https: number };
let key: string;
/** A container in the app's network namespace that can change its firewall (NET_ADMIN, iptables). */
let netctl: string;
const host = 'loadt.tenants.localhost';
/** The tenant app's idle keep-alive timeout (Node's default; apps/tenant-app/web.ts keeps it). */
const appIdleMs = 5_000;

beforeAll(async () => {
  h = await createHarness('doorload');
  // Plain HTTP keeps the client's own cost out of the timing; the upstream is the same on HTTPS.
  ports = await useOwnFrontdoor(h, { TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'false', TENANTCTL_FRONTDOOR_RATE_STANDARD: '1000/1000' });
  const [provisioned] = await Promise.all([h.cli(['provision', 'loadt', '--json']), ensureEngineImage()]);
  if (provisioned.exitCode !== 0) throw new Error(`provision failed:\n${provisioned.why}`);
  key = provisioned.json().initialApiKey.key;
  const init = await h.cli(['frontdoor', 'init', '--self-signed', '--json']);
  if (init.exitCode !== 0) throw new Error(`frontdoor init failed:\n${init.why}`);
  const app = await containerOf(`${h.prefix}-loadt`, 'app');
  netctl = `${h.prefix}-netctl`;
  // The compose project label lets the harness's sweep of the prefix find it should afterAll not run.
  // A tmpfs over the engine image's VOLUME /var/lib/docker: else it got an anonymous volume (empty,
  // root's) that the `rm -f` below kept, one per CI run.
  await execa('docker', ['run', '-d', '--name', netctl, '--label', `com.docker.compose.project=${h.prefix}-netctl`, '--network', `container:${app}`, '--cap-add', 'NET_ADMIN',
    '--mount', 'type=tmpfs,dst=/var/lib/docker', '--entrypoint', 'sleep', engineImage, 'infinity']);
  const volumes = (await execa('docker', ['container', 'inspect', '--format', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', netctl])).stdout.trim();
  if (volumes) throw new Error(`the helper ${netctl} has volumes (${volumes}): the engine image declares a VOLUME this run does not cover`);
}, 300_000);

afterAll(async () => {
  agent.destroy();
  // -v: any anonymous volume goes with it (`rm -f` alone keeps them).
  if (netctl) await execa('docker', ['rm', '-fv', netctl], { reject: false });
  await h?.cli(['frontdoor', 'down']);
  await h?.cleanup();
}, 120_000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** A keyed API request through the door; its status, or the socket error's code. */
const keyed = () => new Promise<string>((resolve) => {
  const request = http.request({ host: '127.0.0.1', port: ports.http, path: '/api/ping', agent, headers: { host, authorization: `Bearer ${key}` } }, (response) => {
    response.resume();
    response.on('end', () => resolve(String(response.statusCode)));
  });
  request.setTimeout(15_000, () => request.destroy(new Error('timeout')));
  request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  request.end();
});

const burst = (n: number) => Promise.all(Array.from({ length: n }, keyed));
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));
const holdBack = (op: '-I' | '-D') => execa('docker', ['exec', netctl, 'iptables', op, 'INPUT', '-p', 'tcp', '--dport', '3000', '-j', 'DROP']);

describe('the door and its app\'s keep-alive timeout', () => {
  it('answers every request 200 when the app closes idle connections as the door reuses them, round after round', async () => {
    const statuses: Record<string, number> = {};
    const count = (answers: string[]) => { for (const s of answers) statuses[s] = (statuses[s] ?? 0) + 1; };
    const since = new Date().toISOString();
    let raced = 0;
    // Three rounds that held the requests back in time (a busy host may make a round late: it is repeated).
    for (let attempt = 0; raced < 3 && attempt < 8; attempt++) {
      // Sixteen connections from nginx to the app, all idle from here on.
      count(await burst(16));
      const idleSince = performance.now();
      // Well past the door's own idle timeout (1 s), with room for a slow docker exec before the app's.
      await sleepUntil(idleSince + appIdleMs - 1_500);
      await holdBack('-I');
      const sentAt = performance.now() - idleSince;
      // Sixteen requests at once: nginx reuses its idle connections (the old upstream) or opens new
      // ones (now); none reaches the app before its 5 s have passed.
      const late = burst(16);
      await sleepUntil(idleSince + appIdleMs + 600);
      await holdBack('-D');
      count(await late);
      if (sentAt < appIdleMs - 100) raced++;
    }
    expect(raced, 'rounds whose requests were sent before the app\'s idle timeout').toBe(3);
    expect(statuses, 'every answer a 200').toEqual({ 200: Object.values(statuses).reduce((a, b) => a + b, 0) });
    // Nothing set aside, nothing refused: the door's error log since the rounds began.
    const log = await execa('docker', ['logs', '--since', since, `${h.prefix}fd-nginx`], { all: true });
    expect(log.all).not.toMatch(/no live upstreams|temporarily disabled|prematurely closed/);
  }, 90_000);
});
