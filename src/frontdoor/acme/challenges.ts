import path from 'node:path';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { TenantctlError } from '../../common/errors.js';
import { acmeDnsHookTimeoutMs } from '../../common/timeouts.js';
import type { DockerHost } from '../../engine/docker-host.js';
import type { FrontdoorLayout } from '../layout.js';
import type { ChallengeSolver } from './client.js';

// Answering the CA's challenges. HTTP-01: a file per token in <stateDir>/frontdoor/acme/challenges/,
// which nginx serves read-only at /.well-known/acme-challenge/<token> on its HTTP port, before any
// redirect (render-acme.ts). nginx's workers run as www-data: the folder is 0755 and each file 0644
// (a token and its key authorization are public by design: the CA fetches them over plain HTTP).
// DNS-01: the operator's hook, run as argv (never through a shell).

/** A challenge token is base64url (RFC 8555 section 8.1); anything else never becomes a file name. */
const tokenPattern = /^[A-Za-z0-9_-]{1,256}$/;

export async function ensureChallengeDir(layout: FrontdoorLayout): Promise<void> {
  await mkdir(layout.acmeChallengesDir, { recursive: true, mode: 0o755 });
  await chmod(layout.acmeChallengesDir, 0o755);
}

export async function writeChallengeToken(layout: FrontdoorLayout, token: string, content: string): Promise<void> {
  if (!tokenPattern.test(token)) throw new TenantctlError('certificate', `the ACME server sent a challenge token that is not base64url: ${JSON.stringify(token.slice(0, 40))}`);
  await ensureChallengeDir(layout);
  const file = path.join(layout.acmeChallengesDir, token);
  await writeFile(`${file}.tmp`, content, { mode: 0o644 });
  await chmod(`${file}.tmp`, 0o644);
  await rename(`${file}.tmp`, file);
}

export async function removeChallengeToken(layout: FrontdoorLayout, token: string): Promise<void> {
  if (!tokenPattern.test(token)) return;
  await rm(path.join(layout.acmeChallengesDir, token), { force: true });
}

export function httpSolver(layout: FrontdoorLayout): ChallengeSolver {
  return {
    type: 'http-01',
    present: (_identifier, token, keyAuthorization) => writeChallengeToken(layout, token, keyAuthorization),
    cleanUp: (_identifier, token) => removeChallengeToken(layout, token),
  };
}

/**
 * DNS-01 through frontdoor.acme.dnsHook: `<hook...> set _acme-challenge.<name> <value>` before the
 * CA looks, `<hook...> unset _acme-challenge.<name> <value>` after. The hook returns once the record
 * is published (it knows its DNS provider's propagation); a non-zero exit fails the issuance.
 */
export function dnsHookSolver(host: DockerHost, hook: readonly string[], signal?: AbortSignal): ChallengeSolver {
  const call = async (verb: 'set' | 'unset', identifier: string, value: string) => {
    const name = `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
    const result = await host.run([...hook, verb, name, value], { timeoutMs: acmeDnsHookTimeoutMs, signal });
    if (result.cancelled) throw new TenantctlError('interrupted', `the DNS hook (${verb} ${name}) was cancelled`);
    if (result.timedOut || result.exitCode !== 0) {
      const why = result.timedOut ? `did not finish within ${acmeDnsHookTimeoutMs / 1000} s` : `exited ${result.exitCode}: ${result.stderrTail.trim().split('\n').slice(-1)[0] ?? ''}`;
      throw new TenantctlError('certificate', `the DNS hook ${hook[0]} ${verb} ${name} ${why}`);
    }
  };
  // *.<base> and <base> both answer at _acme-challenge.<base>: one challenge at a time (from set to
  // unset), so a hook that replaces the record's value never takes the other's away mid-validation.
  let turn: Promise<void> = Promise.resolve();
  const releases = new Map<string, () => void>();
  return {
    type: 'dns-01',
    present: async (identifier, _token, value) => {
      const previous = turn;
      let release!: () => void;
      turn = new Promise((resolve) => { release = resolve; });
      await previous;
      releases.set(value, release);
      try {
        await call('set', identifier, value);
      } catch (error) {
        releases.delete(value);
        release();
        throw error;
      }
    },
    cleanUp: async (identifier, _token, value) => {
      try {
        await call('unset', identifier, value);
      } catch {
        // The record is left; the next set replaces or adds beside it.
      } finally {
        releases.get(value)?.();
        releases.delete(value);
      }
    },
  };
}
