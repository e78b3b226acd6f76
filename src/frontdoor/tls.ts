import path from 'node:path';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, readFile, rename, rm, stat } from 'node:fs/promises';
import { TenantctlError, messageOf } from '../common/errors.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { frontdoorOpensslTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';
import type { FrontdoorLayout } from './layout.js';

// The front door's certificates: the operator's own (a wildcard for the base domain, one per custom
// domain), or, for development, a local CA that `frontdoor init --self-signed` creates and that
// issues the base domain's wildcard only: it is name-constrained to the base domain, so a machine
// that trusts it (as the README tells developers to) trusts it for nothing else, and custom domains
// always bring their own certificate (domains add --cert). openssl runs in the nginx image (Debian's
// openssl), so the host needs nothing but Docker; Node reads the results (X509Certificate).

export interface CertificateInfo {
  file: string;
  subject: string;
  issuer: string;
  names: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export async function describeCertificate(file: string, now = Date.now()): Promise<CertificateInfo> {
  const cert = new X509Certificate(await readFile(file));
  const notAfter = new Date(cert.validTo);
  return {
    file,
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    names: (cert.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now) / 86_400_000),
  };
}

/** Whether a certificate's names cover `host` (exact, or a one-label wildcard). */
export function coversHost(names: readonly string[], host: string): boolean {
  return names.some((name) => name === host || (name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.')));
}

/**
 * Checks an operator's certificate and key (PEM; the certificate may carry its chain) before they
 * are used: both parse, the key is the certificate's, the certificate is not expired and covers
 * `hosts`. Anything else is refused with exit 2, before anything changes.
 */
export async function readOperatorPair(certFile: string, keyFile: string, hosts: readonly string[]): Promise<{ cert: string; key: string }> {
  let cert: string, key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (error) {
    throw new TenantctlError('usage', `cannot read the certificate or key: ${messageOf(error)}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new TenantctlError('usage', `${certFile} is not a PEM certificate: ${messageOf(error)}`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  } catch (error) {
    throw new TenantctlError('usage', `${keyFile}: ${messageOf(error)}`);
  }
  if (new Date(x509.validTo).getTime() < Date.now()) throw new TenantctlError('usage', `${certFile} expired on ${new Date(x509.validTo).toISOString()}`);
  const names = (x509.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  const uncovered = hosts.filter((host) => !coversHost(names, host));
  if (uncovered.length > 0) throw new TenantctlError('usage', `${certFile} does not cover ${uncovered.join(', ')} (it names ${names.join(', ') || 'no DNS names'})`);
  return { cert, key };
}

/** Writes a certificate and its key (0600) under `base` (.crt, .key), each atomically. */
export async function installPair(dir: string, base: string, pair: { cert: string; key: string }): Promise<void> {
  await ensurePrivateDir(dir);
  const crt = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  await writePrivateFile(`${key}.tmp`, pair.key);
  await writePrivateFile(`${crt}.tmp`, pair.cert);
  await chmod(`${crt}.tmp`, 0o644);
  await rename(`${key}.tmp`, key);
  await rename(`${crt}.tmp`, crt);
}

export async function removePair(dir: string, base: string): Promise<void> {
  await rm(path.join(dir, `${base}.crt`), { force: true });
  await rm(path.join(dir, `${base}.key`), { force: true });
}

export const hasLocalCa = (layout: FrontdoorLayout) => stat(path.join(layout.tlsDir, 'ca.key')).then(() => true, () => false);

/** openssl in the nginx image, with `dir` at /out and the CA folder at /ca (read-only); files come back owned by us. */
async function openssl(host: DockerHost, image: string, layout: FrontdoorLayout, dir: string, script: string, env: Record<string, string>, signal?: AbortSignal): Promise<void> {
  const user = typeof process.getuid === 'function' ? ['--user', `${process.getuid()}:${process.getgid?.() ?? 0}`] : [];
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  try {
    await host.docker(['run', '--rm', '--network', 'none', ...user, ...envArgs, '-v', `${dir}:/out`, '-v', `${layout.tlsDir}:/ca:ro`, '--entrypoint', 'sh', image, '-euc', script], { timeoutMs: frontdoorOpensslTimeoutMs, signal });
  } catch (error) {
    throw new TenantctlError('frontdoor', `making a certificate with openssl (in ${image}) failed: ${messageOf(error)}`, { cause: error });
  }
}

/** The nameConstraints extension's OID (2.5.29.30), DER-encoded. */
const nameConstraintsOid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x1e]);
/** An excluded iPAddress subtree of every IPv4 address (0.0.0.0/0.0.0.0): [7] with 8 zero bytes. */
const everyIpv4Excluded = Buffer.from([0x87, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The serverAuth key purpose (1.3.6.1.5.5.7.3.1), DER-encoded: the CA's extendedKeyUsage. */
const serverAuthOid = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]);

/**
 * Whether the local CA is constrained to `baseDomain` as this tenantctl makes it: nameConstraints
 * permitting the base domain's names, excluding every IP address, and an extendedKeyUsage of
 * serverAuth only (Node's X509Certificate does not decode the extensions; their OIDs, the permitted
 * name and the excluded subtree in the DER do). A CA from an older tenantctl fails this and is replaced.
 */
export async function localCaConstrainedTo(layout: FrontdoorLayout, baseDomain: string): Promise<boolean> {
  const raw = await readFile(path.join(layout.tlsDir, 'ca.crt')).then((pem) => new X509Certificate(pem).raw, () => undefined);
  return raw !== undefined && raw.includes(nameConstraintsOid) && raw.includes(Buffer.from(`.${baseDomain}`)) && raw.includes(everyIpv4Excluded) && raw.includes(serverAuthOid);
}

/**
 * The local development CA: created once (10 years), kept across `frontdoor init`s while it is
 * constrained to the base domain; one made by an older tenantctl (unconstrained, it could sign any
 * name) or for another base domain is replaced.
 */
export async function ensureLocalCa(host: DockerHost, image: string, layout: FrontdoorLayout, baseDomain: string, signal?: AbortSignal): Promise<{ created: boolean }> {
  if (await hasLocalCa(layout) && await localCaConstrainedTo(layout, baseDomain)) return { created: false };
  await ensurePrivateDir(layout.tlsDir);
  await openssl(host, image, layout, layout.tlsDir, `
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 3650 \\
  -subj "/CN=tenantctl local development CA" \\
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \\
  -addext "nameConstraints=critical,permitted;DNS:.$BASE_DOMAIN,permitted;DNS:$BASE_DOMAIN,excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::,permitted;email:$BASE_DOMAIN,permitted;URI:$BASE_DOMAIN" \\
  -addext "extendedKeyUsage=serverAuth" \\
  -keyout /out/ca.key.tmp -out /out/ca.crt.tmp 2>/dev/null`, { BASE_DOMAIN: baseDomain }, signal);
  await chmod(path.join(layout.tlsDir, 'ca.key.tmp'), 0o600);
  await rename(path.join(layout.tlsDir, 'ca.crt.tmp'), path.join(layout.tlsDir, 'ca.crt'));
  await rename(path.join(layout.tlsDir, 'ca.key.tmp'), path.join(layout.tlsDir, 'ca.key'));
  return { created: true };
}

/** Issues a certificate for `names` (the first is the subject; all under `baseDomain`) from the local CA into dir/base.crt|key (397 days). */
export async function issueFromLocalCa(host: DockerHost, image: string, layout: FrontdoorLayout, dir: string, base: string, names: readonly string[], baseDomain: string, signal?: AbortSignal): Promise<void> {
  if (!(await hasLocalCa(layout))) throw new TenantctlError('usage', 'the front door has no local CA: run `tenantctl frontdoor init --self-signed`, or give --cert and --key');
  // The CA's constraint would make such a certificate fail every client's check anyway; say so here.
  const foreign = names.filter((n) => n !== baseDomain && !n.endsWith(`.${baseDomain}`));
  if (foreign.length > 0) throw new TenantctlError('usage', `the local development CA signs only names under ${baseDomain}, not ${foreign.join(', ')}: give --cert and --key`);
  await ensurePrivateDir(dir);
  await openssl(host, image, layout, dir, `
printf 'subjectAltName=%s\\nbasicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' "$SAN" > /tmp/ext.cnf
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$CN" -keyout "/out/$BASE.key.tmp" -out /tmp/leaf.csr 2>/dev/null
openssl x509 -req -in /tmp/leaf.csr -CA /ca/ca.crt -CAkey /ca/ca.key -set_serial "0x$SERIAL" -days 397 -sha256 -extfile /tmp/ext.cnf -out "/out/$BASE.crt.tmp" 2>/dev/null`, {
    SAN: names.map((n) => `DNS:${n}`).join(','),
    CN: names[0]!,
    BASE: base,
    SERIAL: randomBytes(16).toString('hex').replace(/^[89a-f]/, '7'),
  }, signal);
  await chmod(path.join(dir, `${base}.key.tmp`), 0o600);
  await rename(path.join(dir, `${base}.key.tmp`), path.join(dir, `${base}.key`));
  await rename(path.join(dir, `${base}.crt.tmp`), path.join(dir, `${base}.crt`));
}
