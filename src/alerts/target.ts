import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { usageError } from '../common/errors.js';
import { webhookResolveTimeoutMs } from '../common/timeouts.js';

// Where a webhook may go. The agent posts from inside the host's network: an endpoint aimed at
// loopback, a private or link-local address (cloud metadata at 169.254.169.254) or the Docker
// API's ports would let whoever may add endpoints make the agent reach those. They are refused
// unless the endpoint was added with --allow-private; the resolved address is checked again before
// every delivery (a name that later resolves elsewhere is caught at that point).

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) blocked.addSubnet(net, prefix, 'ipv6');

/** The Docker engine's TCP ports: never a webhook's. */
const dockerPorts = new Set(['2375', '2376']);

/** Loopback, private, link-local, shared, multicast or reserved (an IPv4-mapped IPv6 address by its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type Resolver = (host: string) => Promise<string[]>;

export const resolveAll: Resolver = async (host) => {
  const answers = await Promise.race([
    lookup(host, { all: true, verbatim: true }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${webhookResolveTimeoutMs / 1000} s`)), webhookResolveTimeoutMs).unref()),
  ]);
  return answers.map((a) => a.address);
};

/**
 * Why the URL may not be a webhook target (undefined: it may): a Docker API port, or a host that
 * is, or resolves to, a non-public address. `allowPrivate` lifts both.
 */
export async function targetRefusal(url: string, allowPrivate: boolean, resolve: Resolver = resolveAll): Promise<string | undefined> {
  if (allowPrivate) return undefined;
  const u = new URL(url);
  if (dockerPorts.has(u.port)) return `port ${u.port} is the Docker API's`;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch (error) {
    return `${host} does not resolve (${(error as Error).message})`;
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad) return bad === host ? `${host} is a loopback, private or link-local address` : `${host} resolves to ${bad}, a loopback, private or link-local address`;
  return undefined;
}

/** `alerts add`: a one-line usage error for a refused target, saying how to allow it on purpose. */
export async function requirePublicTarget(url: string, allowPrivate: boolean, resolve?: Resolver): Promise<void> {
  const why = await targetRefusal(url, allowPrivate, resolve);
  if (why) throw usageError(`webhook target refused: ${why}; add --allow-private if the receiver is meant to be on this network`);
}

/**
 * The URL as shown by alerts list, --json and audit rows: its origin and a short hash of the
 * whole. Slack-style webhook URLs carry their token in the path (and some in the query), so the
 * path and query are never shown; the hash tells two endpoints apart.
 */
export function redactUrl(url: string): string {
  const u = new URL(url);
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 8);
  return u.pathname === '/' && !u.search ? `${u.origin}/ (#${hash})` : `${u.origin}/… (#${hash})`;
}
