// A real ACME server for the e2e tests: Debian's pebble, resolving every name through
// pebble-challtestsrv's DNS (127.0.0.1 unless a test maps a name elsewhere), on free loopback ports,
// with its own TLS certificate (made here: Debian ships none) and a short certificate lifetime so a
// test can see a renewal come due. Both are this test's own processes, ended by PID.
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import getPort from 'get-port';

export interface Pebble {
  directory: string;
  /** pebble's own TLS certificate (frontdoor.acme.caBundle). */
  tlsCa: string;
  /** The root its certificates chain to (from its management API, /roots/0). */
  root: string;
  /** host:port of challtestsrv's DNS (frontdoor.acme.resolver, pebble's -dnsserver). */
  dns: string;
  /** Answers A (or AAAA, for an IPv6 address) queries for `host` with `address` (challtestsrv's /add-a, /add-aaaa). */
  mapName(host: string, address: string): Promise<void>;
  /** challtestsrv's management address, for a DNS-01 hook (set-txt, clear-txt). */
  challengeManagement: string;
  /** pebble's view of a certificate by serial: Valid or Revoked. */
  certificateStatus(serialHex: string): Promise<string>;
  stop(): Promise<void>;
}

function request(url: string, ca: string | undefined, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? https.request : http.request;
    const req = send(target, { method: body === undefined ? 'GET' : 'POST', ca, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function until<T>(what: string, ms: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPebble(dir: string, options: { httpPort: number; validitySeconds: number; blocked?: string[] }): Promise<Pebble> {
  const [acmePort, mgmtPort, tlsPort, dnsPort, challMgmtPort] = [await getPort(), await getPort(), await getPort(), await getPort(), await getPort()];
  const tlsCa = path.join(dir, 'pebble-tls.crt');
  const tlsKey = path.join(dir, 'pebble-tls.key');
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2', '-keyout', tlsKey, '-out', tlsCa]);
  const configFile = path.join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify({ pebble: {
    listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: tlsCa, privateKey: tlsKey,
    httpPort: options.httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
    certificateValidityPeriod: options.validitySeconds, domainBlocklist: options.blocked ?? [],
  } }));
  const children: ResultPromise[] = [];
  const dns = `127.0.0.1:${dnsPort}`;
  children.push(execa('pebble-challtestsrv', ['-dns01', dns, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { reject: false, stdin: 'ignore', cleanup: true }));
  children.push(execa('pebble', ['-config', configFile, '-dnsserver', dns], { reject: false, stdin: 'ignore', cleanup: true, env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' } }));
  const ca = readFileSync(tlsCa, 'utf8');
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  await until('pebble answering', 20_000, async () => ((await request(directory, ca)).status === 200 ? true : undefined));
  await until('challtestsrv answering', 20_000, async () => ((await request(`http://127.0.0.1:${challMgmtPort}/add-a`, undefined, { host: 'ready.invalid.', addresses: ['127.0.0.1'] })).status === 200 ? true : undefined));
  const root = path.join(dir, 'pebble-root.pem');
  writeFileSync(root, (await request(`https://127.0.0.1:${mgmtPort}/roots/0`, ca)).text);
  return {
    directory, tlsCa, root, dns, challengeManagement: `http://127.0.0.1:${challMgmtPort}`,
    async mapName(host, address) {
      const kind = address.includes(':') ? 'add-aaaa' : 'add-a';
      const r = await request(`http://127.0.0.1:${challMgmtPort}/${kind}`, undefined, { host: host.endsWith('.') ? host : `${host}.`, addresses: [address] });
      if (r.status !== 200) throw new Error(`challtestsrv ${kind} ${host}: ${r.status} ${r.text}`);
    },
    async certificateStatus(serialHex) {
      const serial = serialHex.toLowerCase().replace(/^0+/, '');
      const r = await request(`https://127.0.0.1:${mgmtPort}/cert-status-by-serial/${serial}`, ca);
      if (r.status !== 200) throw new Error(`pebble cert-status-by-serial/${serial}: ${r.status} ${r.text}`);
      return JSON.parse(r.text).Status;
    },
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children);
    },
  };
}
