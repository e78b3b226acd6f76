import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TenantctlError } from '../../common/errors.js';
import { done, notYet, retryUntilDeadline } from '../../common/retry.js';
import { frontdoorReloadDeadlineMs, probeConnectTimeoutMs } from '../../common/timeouts.js';
import { ignoreFailure } from '../../common/ignore-failure.js';
import type { Context } from '../../context.js';
import { frontdoorLayout } from '../layout.js';
import { dialAddress, generationConfirmMs, signalReload, testGeneration } from '../stack.js';
import { lockReloads } from '../sync.js';
import { pemFile } from './certificates.js';

// The agent's reload after it renewed certificates in place (renew.ts, inPlace): nginx reads each
// ACME name's combined PEM from the ACME folder (render-acme.ts), so the live generation already
// names the renewed files and no rendering is needed (the agent has no access to the door's
// configuration). Under the door's reload lock: `nginx -t` of the live configuration in the running
// nginx (it loads every certificate: a bad file is refused and nothing is reloaded), SIGHUP, then
// each renewed name is dialled by SNI until nginx presents the new certificate, the first one on
// fresh connections for generationConfirmMs in a row (as the door's sync waits for a generation:
// one answer only says a new worker runs, while old ones may still take connections and present
// the old certificate for 100 ms and more).

/** The certificate nginx presents for `servername` on the HTTPS listener, or why not. */
function presentedCertificate(ctx: Context, servername: string, signal: AbortSignal): Promise<X509Certificate | Error> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: dialAddress(ctx.config), port: ctx.config.frontdoor.httpsPort, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      resolve(peer ?? new Error('no certificate presented'));
    });
    socket.setTimeout(probeConnectTimeoutMs, () => socket.destroy(new Error('no TLS answer')));
    socket.on('error', (error) => resolve(error));
    signal.addEventListener('abort', () => socket.destroy(new Error('interrupted')), { once: true });
  });
}

async function presentedSerial(ctx: Context, servername: string, signal: AbortSignal): Promise<string | Error> {
  const peer = await presentedCertificate(ctx, servername, signal);
  return peer instanceof Error ? peer : peer.serialNumber;
}

/**
 * Whether nginx serves an older certificate of `hostname` than the one installed: it presents one
 * for that name (so the name is in the live configuration, from its .pem) whose serial is not the
 * installed one's. Not when nginx does not answer, or answers with a certificate not for the name
 * (the name is not rendered yet: the next sync on the host takes it up; a reload would not).
 */
export function servesOlder(presented: { serial: string; coversName: boolean } | Error, installedSerial: string): boolean {
  return !(presented instanceof Error) && presented.coversName && presented.serial !== installedSerial;
}

/**
 * The installed names nginx still serves with an older certificate: renewed by a run killed between
 * installing and reloading, or whose reload was refused (nginx -t, a name never presented). Each
 * run reloads for these too, so such a renewal is taken up by the next run rather than never.
 */
export async function notTakenUp(ctx: Context, hostnames: readonly string[]): Promise<string[]> {
  const layout = frontdoorLayout(ctx.config);
  const stale: string[] = [];
  for (const hostname of hostnames) {
    const installed = await readFile(pemFile(layout, hostname)).then((pem) => new X509Certificate(pem).serialNumber).catch(ignoreFailure('an unreadable or unparsable .pem is no newer certificate (a reload would be refused for it)'));
    if (installed === undefined) continue;
    const peer = await presentedCertificate(ctx, hostname, ctx.signal);
    const presented = peer instanceof Error ? peer : { serial: peer.serialNumber, coversName: peer.checkHost(hostname) !== undefined };
    if (servesOlder(presented, installed)) stale.push(hostname);
  }
  return stale;
}

export async function reloadInPlace(ctx: Context, hostnames: readonly string[]): Promise<void> {
  const config = ctx.config;
  const layout = frontdoorLayout(config);
  const db = await ctx.adminDb();
  const release = await lockReloads(db, config.frontdoor.project);
  try {
    const tested = await testGeneration(ctx.dockerHost, config, layout, 'live', true, ctx.signal);
    if (!tested.ok) throw new TenantctlError('frontdoor', `nginx -t refused the live configuration with the renewed certificates (${tested.errors.join('; ')}); nginx was not reloaded and serves the previous ones`);
    await signalReload(ctx.dockerHost, config, ctx.signal);
  } finally {
    await release();
  }
  // Once one name was presented renewed for the whole window, the old workers no longer take
  // connections: one answer each suffices for the others.
  let confirmed = false;
  for (const hostname of hostnames) {
    const wanted = new X509Certificate(await readFile(pemFile(layout, hostname))).serialNumber;
    let firstSeen: number | undefined;
    await retryUntilDeadline(async () => {
      const seen = await presentedSerial(ctx, hostname, ctx.signal);
      if (seen instanceof Error) return (firstSeen = undefined, notYet(`${hostname}: ${seen.message}`));
      if (seen !== wanted) return (firstSeen = undefined, notYet(`nginx still presents serial ${seen} for ${hostname}`));
      firstSeen ??= Date.now();
      if (confirmed || Date.now() - firstSeen >= generationConfirmMs) return done(undefined);
      return notYet(`nginx presents the renewed certificate of ${hostname}; old workers may still take connections`, true);
    }, {
      what: `waiting for nginx to present the renewed certificate of ${hostname}`,
      deadlineMs: frontdoorReloadDeadlineMs,
      signal: ctx.signal,
      initialDelayMs: 20,
      maxDelayMs: 1_000,
      onDeadline: (why) => new TenantctlError('frontdoor', `nginx did not take up the renewed certificate of ${hostname} within ${frontdoorReloadDeadlineMs / 1000} s (${why})`),
    });
    confirmed = true;
  }
}
