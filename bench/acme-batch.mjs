// What a batch of ACME certificates costs the front door (issue 24): the time to issue for N tenants
// at once against a real ACME server (Debian's pebble, resolving through pebble-challtestsrv, its
// validation sleeps off), and the nginx reloads it takes (target: one for the whole batch).
//
//   npm run build && node bench/acme-batch.mjs
//   BENCH_TENANTS (default 50)
//
// The tenants are registry rows only (status failed: the door serves each a 503 page, and a
// certificate for its <id>.<baseDomain>, as for any tenant it serves), so what is measured is the
// door's ACME path, not N provisions. The front door (real nginx and gateway, its own ports and
// compose project) is set up with `frontdoor init --acme` first, with no tenants; then one
// `frontdoor reload` issues all N certificates and reloads once. Reloads are counted twice: the
// live generation's number, and the SIGHUPs nginx's master logged. Everything is removed afterwards;
// pebble and challtestsrv are this bench's own children, ended by PID.
import { execa } from 'execa';
import https from 'node:https';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import { adminDbConfig, benchEnvironment, cli, pgClient } from './environment.mjs';

const count = Number(process.env.BENCH_TENANTS ?? 50);
const base = 'bench.example.com';

function fetchText(url, ca, body) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? https.request : http.request;
    const req = send(target, { method: body === undefined ? 'GET' : 'POST', ca, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function until(what, attempt) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await attempt().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const env = await benchEnvironment('acmebench');
const children = [];
let exitCode = 0;
try {
  const [httpPort, httpsPort, gatewayPort, acmePort, mgmtPort, tlsPort, dnsPort, challPort] = await Promise.all(Array.from({ length: 8 }, () => getPort()));
  const tlsCa = path.join(env.dir, 'pebble-tls.crt');
  const tlsKey = path.join(env.dir, 'pebble-tls.key');
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', tlsKey, '-out', tlsCa]);
  writeFileSync(path.join(env.dir, 'pebble.json'), JSON.stringify({ pebble: { listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: tlsCa, privateKey: tlsKey, httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false } }));
  children.push(execa('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { reject: false, stdin: 'ignore' }));
  children.push(execa('pebble', ['-config', path.join(env.dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { reject: false, stdin: 'ignore', env: { PEBBLE_VA_NOSLEEP: '1' } }));
  const ca = readFileSync(tlsCa, 'utf8');
  await until('pebble', async () => (await fetchText(`https://127.0.0.1:${acmePort}/dir`, ca)).status === 200);
  Object.assign(env.env, {
    TENANTCTL_HOST_ID: 'acmebench',
    TENANTCTL_FRONTDOOR_PROJECT: `${env.prefix}fd`,
    TENANTCTL_FRONTDOOR_LISTEN_ADDRESS: '127.0.0.1',
    TENANTCTL_FRONTDOOR_HTTP_PORT: String(httpPort),
    TENANTCTL_FRONTDOOR_HTTPS_PORT: String(httpsPort),
    TENANTCTL_FRONTDOOR_GATEWAY_PORT: String(gatewayPort),
    TENANTCTL_FRONTDOOR_BASE_DOMAIN: base,
    TENANTCTL_FRONTDOOR_ACME_DIRECTORY: `https://127.0.0.1:${acmePort}/dir`,
    TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE: tlsCa,
    TENANTCTL_FRONTDOOR_ACME_RESOLVER: `127.0.0.1:${dnsPort}`,
  });
  const tenantctl = (args) => env.run('node', [cli, ...args]);
  await tenantctl(['list']);
  await tenantctl(['frontdoor', 'init', '--acme', '--json']);

  const db = pgClient(adminDbConfig(env.env), 'acme bench\'s admin database client');
  await db.connect();
  for (let i = 0; i < count; i++) {
    await db.query("INSERT INTO admin_customers (id, name, status, host, compose_project) VALUES ($1, $1, 'failed', 'acmebench', $1)", [`t${String(i).padStart(3, '0')}`]);
  }
  const nginx = `${env.prefix}fd-nginx`;
  // Every reload is a `docker kill --signal HUP` of nginx (stack.ts): the engine's events count them.
  const since = Math.floor(Date.now() / 1000);
  const hups = async () => (await execa('docker', ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `container=${nginx}`, '--filter', 'event=kill', '--format', '{{.Actor.Attributes.signal}}'])).stdout.split('\n').filter((signal) => signal === '1' || signal === 'HUP').length;
  const generationBefore = Number(readFileSync(path.join(env.env.TENANTCTL_STATE_DIR, 'frontdoor', 'conf', 'live', 'generation'), 'utf8'));
  const hupsBefore = await hups();

  const started = performance.now();
  const reload = JSON.parse((await tenantctl(['frontdoor', 'reload', '--json'])).stdout);
  const seconds = (performance.now() - started) / 1000;

  const generationAfter = Number(readFileSync(path.join(env.env.TENANTCTL_STATE_DIR, 'frontdoor', 'conf', 'live', 'generation'), 'utf8'));
  const hupsAfter = await hups();
  const issued = (reload.certificates ?? []).filter((c) => c.ok).length;
  const failed = (reload.certificates ?? []).filter((c) => !c.ok);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM admin_certificates WHERE kind = 'tenant' AND serial IS NOT NULL");
  await db.end();
  console.log(`issued ${issued}/${count} certificates in one frontdoor reload: ${seconds.toFixed(1)} s (${(seconds / count * 1000).toFixed(0)} ms per certificate, 4 orders in flight)`);
  console.log(`nginx reloads for the batch: ${generationAfter - generationBefore} (generations ${generationBefore} -> ${generationAfter}), SIGHUPs sent to nginx (docker events): ${hupsAfter - hupsBefore}; admin_certificates rows: ${rows[0].n}`);
  if (issued !== count || failed.length > 0) { console.error('failed:', failed.slice(0, 5)); exitCode = 1; }
  if (generationAfter - generationBefore !== 1 || hupsAfter - hupsBefore !== 1) { console.error('more than one reload for the batch'); exitCode = 1; }
} finally {
  await env.run('node', [cli, 'frontdoor', 'down'], { reject: false });
  for (const child of children) child.kill('SIGTERM');
  await Promise.allSettled(children);
  await env.cleanup();
}
process.exit(exitCode);
