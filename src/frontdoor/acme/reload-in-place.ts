import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TenantctlError } from '../../common/errors.js';
import { done, notYet, retryUntilDeadline } from '../../common/retry.js';
import { frontdoorReloadDeadlineMs, probeConnectTimeoutMs } from '../../common/timeouts.js';
import type { Context } from '../../context.js';
import { frontdoorLayout } from '../layout.js';
import { dialAddress, signalReload, testGeneration } from '../stack.js';
import { lockReloads } from '../sync.js';
import { pemFile } from './certificates.js';

// The agent's reload after it renewed certificates in place (renew.ts, inPlace): nginx reads each
// ACME name's combined PEM from the ACME folder (render-acme.ts), so the live generation already
// names the renewed files and no rendering is needed (the agent has no access to the door's
// configuration). Under the door's reload lock: `nginx -t` of the live configuration in the running
// nginx (it loads every certificate: a bad file is refused and nothing is reloaded), SIGHUP, then
// each renewed name is dialled by SNI until nginx presents the new certificate.

/** The serial nginx presents for `servername` on the HTTPS listener, or why not. */
function presentedSerial(ctx: Context, servername: string, signal: AbortSignal): Promise<string | Error> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: dialAddress(ctx.config), port: ctx.config.frontdoor.httpsPort, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      resolve(peer ? peer.serialNumber : new Error('no certificate presented'));
    });
    socket.setTimeout(probeConnectTimeoutMs, () => socket.destroy(new Error('no TLS answer')));
    socket.on('error', (error) => resolve(error));
    signal.addEventListener('abort', () => socket.destroy(new Error('interrupted')), { once: true });
  });
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
  for (const hostname of hostnames) {
    const wanted = new X509Certificate(await readFile(pemFile(layout, hostname))).serialNumber;
    await retryUntilDeadline(async () => {
      const seen = await presentedSerial(ctx, hostname, ctx.signal);
      if (seen instanceof Error) return notYet(`${hostname}: ${seen.message}`);
      return seen === wanted ? done(undefined) : notYet(`nginx still presents serial ${seen} for ${hostname}`);
    }, {
      what: `waiting for nginx to present the renewed certificate of ${hostname}`,
      deadlineMs: frontdoorReloadDeadlineMs,
      signal: ctx.signal,
      initialDelayMs: 50,
      maxDelayMs: 1_000,
      onDeadline: (why) => new TenantctlError('frontdoor', `nginx did not take up the renewed certificate of ${hostname} within ${frontdoorReloadDeadlineMs / 1000} s (${why})`),
    });
  }
}
