import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { lookup, Resolver } from 'node:dns/promises';
import { TenantctlError, messageOf } from '../../common/errors.js';
import { acmeReachabilityTimeoutMs } from '../../common/timeouts.js';
import { failureMeans } from '../../common/ignore-failure.js';
import type { FrontdoorConfig } from '../../config/schema.js';
import type { FrontdoorLayout } from '../layout.js';
import { removeChallengeToken, writeChallengeToken } from './challenges.js';

// Before asking the CA for a custom domain's certificate: does the domain reach this front door?
// A random token is served from the challenge folder (as the CA's would be) and fetched over plain
// HTTP from every address the domain resolves to, on the door's HTTP port, as the CA will. Each way
// it can fail has its own message (exit 12): no address, an address where nothing answers on the
// port, an address where something else answers (DNS points elsewhere).

export type Unreachable = { cause: 'dns' | 'port' | 'elsewhere'; message: string };

/** The domain's IPv4 addresses (A), and its IPv6 ones (AAAA; none is no error: most have none). */
async function addressesOf(domain: string, resolverAddress: string | undefined): Promise<{ v4: string[]; v6: string[] }> {
  if (!resolverAddress) {
    const v4 = (await lookup(domain, { all: true, family: 4 })).map((a) => a.address);
    const v6 = await lookup(domain, { all: true, family: 6 }).then((all) => all.map((a) => a.address), () => []);
    return { v4, v6 };
  }
  const resolver = new Resolver({ timeout: acmeReachabilityTimeoutMs, tries: 2 });
  resolver.setServers([resolverAddress]);
  return { v4: await resolver.resolve4(domain), v6: await resolver.resolve6(domain).catch(failureMeans([] as string[], 'no AAAA answer (ENODATA, a resolver without IPv6): the IPv4 answer decides')) };
}

function fetchToken(address: string, port: number, domain: string, token: string, signal?: AbortSignal): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const request = http.get({ host: address, port, path: `/.well-known/acme-challenge/${token}`, headers: { host: domain }, agent: false, timeout: acmeReachabilityTimeoutMs, signal }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { if (body.length < 4096) body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

/** Why `domain` does not reach this front door over HTTP, or undefined when it does. */
export async function reachability(config: FrontdoorConfig, layout: FrontdoorLayout, domain: string, signal?: AbortSignal): Promise<Unreachable | undefined> {
  const port = config.httpPort;
  let addresses: string[];
  let v6: string[];
  try {
    ({ v4: addresses, v6 } = await addressesOf(domain, config.acme.resolver));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
    return { cause: 'dns', message: `${domain} has no DNS address (A record) (${code}${config.acme.resolver ? ` from ${config.acme.resolver}` : ''}): point it at this front door` };
  }
  if (addresses.length === 0) return { cause: 'dns', message: `${domain} has no DNS address (A record): point it at this front door` };
  const token = randomBytes(24).toString('base64url');
  const content = randomBytes(24).toString('base64url');
  await writeChallengeToken(layout, token, content);
  try {
    for (const address of addresses) {
      const answer = await fetchToken(address, port, domain, token, signal);
      if ('error' in answer) {
        if (signal?.aborted) throw new TenantctlError('interrupted', 'interrupted while checking the domain');
        return { cause: 'port', message: `port ${port} of ${domain} (${address}) is unreachable: ${answer.error}; the CA checks the domain over plain HTTP on port ${port} of every address it resolves to` };
      }
      if (answer.status !== 200 || answer.body.trim() !== content) {
        return { cause: 'elsewhere', message: `${domain} points elsewhere: ${address}:${port} answered ${answer.status} without this front door's check token; its DNS record must point at this front door` };
      }
    }
    // The CA tries an AAAA address first and falls back to IPv4 only when it cannot connect: a
    // server that answers there without the token fails the challenge.
    for (const address of v6) {
      const answer = await fetchToken(address, port, domain, token, signal);
      if (!('error' in answer) && (answer.status !== 200 || answer.body.trim() !== content)) {
        return { cause: 'elsewhere', message: `${domain} points elsewhere over IPv6: [${address}]:${port} (its AAAA record) answered ${answer.status} without this front door's check token; the CA tries IPv6 first: remove the AAAA record or point it at this front door` };
      }
    }
    return undefined;
  } finally {
    await removeChallengeToken(layout, token);
  }
}

/** As reachability, throwing exit 12 with the cause. */
export async function requireReachable(config: FrontdoorConfig, layout: FrontdoorLayout, domain: string, signal?: AbortSignal): Promise<void> {
  const why = await reachability(config, layout, domain, signal);
  if (why) throw new TenantctlError('certificate', `domain ${domain} does not reach this front door: ${why.message}`);
}
