import { AsyncLocalStorage } from 'node:async_hooks';
import https from 'node:https';
import path from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import acme from 'acme-client';
import { TenantctlError, messageOf } from '../../common/errors.js';
import { ensurePrivateDir, writePrivateFile } from '../../common/private-files.js';
import { acmeIssueDeadlineMs, acmeRequestTimeoutMs } from '../../common/timeouts.js';
import { missingMeans } from '../../common/ignore-failure.js';
import type { FrontdoorConfig } from '../../config/schema.js';
import type { FrontdoorLayout } from '../layout.js';

// The one file that talks ACME, through acme-client (npm; pure JavaScript, RFC 8555, kept by its
// authors since 2017): loaded only on ACME paths (sync.ts imports the acme folder lazily), so
// commands that never get a certificate do not pay for it (or for axios, which it uses).
//
// acme-client retries a 429 or 5xx by sleeping for the CA's Retry-After, however long: a rate limit
// of an hour would hang the command. Its retries are off here; a failed attempt is recorded with the
// CA's Retry-After (captured below, per issuance) and `frontdoor renew` tries again after it.

/** What the CA answered last with an error, for the issuance running in this async context. */
export interface CaProblem {
  status: number;
  type?: string;
  detail?: string;
  retryAfterSeconds?: number;
}

const problems = new AsyncLocalStorage<{ last?: CaProblem }>();
let axiosReady: string | undefined;

/** Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** acme-client's axios: our timeout, no sleeping retries, the private CA bundle, and problems captured per issuance. */
async function prepareAxios(caBundle: string | undefined): Promise<void> {
  const key = caBundle ?? '';
  if (axiosReady === key) return;
  const instance = acme.axios as any;
  instance.defaults.timeout = acmeRequestTimeoutMs;
  instance.defaults.acmeSettings.retryMaxAttempts = 0;
  if (caBundle) {
    let ca: string;
    try {
      ca = await readFile(caBundle, 'utf8');
    } catch (error) {
      throw new TenantctlError('usage', `frontdoor.acme.caBundle: cannot read ${caBundle}: ${messageOf(error)}`);
    }
    instance.defaults.httpsAgent = new https.Agent({ ca, keepAlive: true });
  }
  if (axiosReady === undefined) {
    // With its retries off, acme-client's error interceptor reads the response of an error that has
    // none (refused, timed out, TLS not trusted) and throws a TypeError instead: such an error goes
    // past it unchanged, with its code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ...).
    for (const handler of (instance.interceptors.response.handlers ?? []) as ({ rejected?: (error: any) => unknown } | null)[]) {
      const original = handler?.rejected;
      if (handler && original) handler.rejected = (error: any) => (error?.response ? original(error) : Promise.reject(error));
    }
    instance.interceptors.response.use((response: any) => {
      if (response.status >= 400) {
        const store = problems.getStore();
        const data = response.data && typeof response.data === 'object' ? response.data : {};
        if (store) store.last = { status: response.status, type: data.type, detail: data.detail, retryAfterSeconds: parseRetryAfter(response.headers?.['retry-after']) };
      }
      return response;
    });
  }
  axiosReady = key;
}

/** A refusal or failure from the ACME server, with what it said (exit 12). */
export class CaError extends TenantctlError {
  constructor(readonly hostname: string, message: string, readonly problem: CaProblem | undefined, cause: unknown) {
    super('certificate', message, { cause });
  }
}

export interface AcmeAccount {
  client: acme.Client;
  directory: string;
}

interface AccountFile { directory: string; url: string }

/**
 * The ACME account of this front door: its key (<stateDir>/frontdoor/acme/account.key, 0600, made
 * once) and its URL for the configured directory (account.json), registered on first use.
 */
export async function openAccount(settings: FrontdoorConfig['acme'], layout: FrontdoorLayout): Promise<AcmeAccount> {
  await prepareAxios(settings.caBundle);
  await ensurePrivateDir(layout.acmeDir);
  const keyFile = path.join(layout.acmeDir, 'account.key');
  const accountFile = path.join(layout.acmeDir, 'account.json');
  let accountKey = await readAccountKey(keyFile);
  if (!accountKey) {
    accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    await writePrivateFile(`${keyFile}.tmp`, accountKey);
    await rename(`${keyFile}.tmp`, keyFile);
  }
  const known = await readFile(accountFile, 'utf8').then((t) => JSON.parse(t) as AccountFile, () => undefined);
  const accountUrl = known?.directory === settings.directory ? known.url : undefined;
  const client = new acme.Client({ directoryUrl: settings.directory, accountKey, accountUrl, backoffAttempts: 30, backoffMin: 250, backoffMax: 5_000 });
  if (!accountUrl) {
    await withProblems('account', async () => {
      await client.createAccount({ termsOfServiceAgreed: true, ...(settings.email ? { contact: [`mailto:${settings.email}`] } : {}) });
    });
    await writeFile(accountFile, `${JSON.stringify({ directory: settings.directory, url: client.getAccountUrl() } satisfies AccountFile, null, 2)}\n`, { mode: 0o600 });
  }
  return { client, directory: settings.directory };
}

/**
 * The account key, or undefined when there is none yet (ENOENT only). One that is there but cannot
 * be read is an error (exit 2): a new key would be a new account, and the old one's orders lost.
 */
export async function readAccountKey(keyFile: string): Promise<string | undefined> {
  return readFile(keyFile, 'utf8').catch(missingMeans(undefined)).catch((error: unknown) => {
    throw new TenantctlError('usage', `cannot read ${keyFile} (the ACME account key; fix its permissions; it is not replaced): ${messageOf(error)}`, { cause: error });
  });
}

/** Runs `work` with the CA's problems captured; an error becomes a CaError naming what the CA said. */
async function withProblems<T>(hostname: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const store: { last?: CaProblem } = {};
  return problems.run(store, async () => {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      // acme-client takes no AbortSignal: the command stops waiting (the order expires at the CA).
      return await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no certificate within ${acmeIssueDeadlineMs / 1000} s`)), acmeIssueDeadlineMs);
          onAbort = () => reject(new TenantctlError('interrupted', 'interrupted while waiting for the ACME server'));
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (error) {
      if (error instanceof TenantctlError) throw error;
      const p = store.last;
      const retry = p?.retryAfterSeconds !== undefined ? `; retry after ${p.retryAfterSeconds} s (Retry-After)` : '';
      const type = p?.type ? ` (${p.type.replace('urn:ietf:params:acme:error:', '')})` : '';
      const what = hostname === 'account' ? 'registering the ACME account' : `the certificate for ${hostname}`;
      // No answer at all (refused, timed out, TLS not trusted) is not a refusal by the CA.
      const code = (error as { code?: unknown }).code;
      const unanswered = p === undefined && typeof code === 'string' && !code.startsWith('ERR_BAD_');
      const message = unanswered ? `cannot reach the ACME server (${what}): ${messageOf(error)}` : `the ACME server refused ${what}: ${messageOf(error)}${type}${retry}`;
      throw new CaError(hostname, message, p, error);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  });
}

/** How a challenge is answered: http-01 (a token file the door serves) or dns-01 (the operator's hook). */
export interface ChallengeSolver {
  type: 'http-01' | 'dns-01';
  /** Makes the answer available: `name` is the identifier, `token` the challenge's, `value` the key authorization (or its DNS digest). */
  present(identifier: string, token: string, keyAuthorization: string): Promise<void>;
  cleanUp(identifier: string, token: string, keyAuthorization: string): Promise<void>;
}

export interface Obtained {
  cert: string;
  key: string;
}

/** One certificate for `names` (the first is its subject), with a fresh P-256 key. */
export async function obtainCertificate(account: AcmeAccount, names: readonly string[], solver: ChallengeSolver, signal?: AbortSignal): Promise<Obtained> {
  const [key, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: [...names] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  const cert = await withProblems(names[0]!, () => account.client.auto({
    csr,
    challengePriority: [solver.type],
    // The door checked reachability itself (domains add), with its own resolver; acme-client's check
    // would resolve through the system's DNS only.
    skipChallengeVerification: true,
    termsOfServiceAgreed: true,
    challengeCreateFn: (authz, challenge, keyAuthorization) => solver.present(authz.identifier.value, challenge.token, keyAuthorization),
    challengeRemoveFn: (authz, challenge, keyAuthorization) => solver.cleanUp(authz.identifier.value, challenge.token, keyAuthorization),
  }), signal);
  return { cert, key: key.toString() };
}

/** Revokes a certificate this account obtained (reason 5: cessation of operation, the name left this door). */
export async function revokeCertificate(account: AcmeAccount, hostname: string, cert: string): Promise<void> {
  await withProblems(hostname, () => account.client.revokeCertificate(cert, { reason: 5 }));
}
