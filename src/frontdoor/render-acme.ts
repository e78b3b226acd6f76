// The front door's side of ACME (src/frontdoor/acme/), kept out of render.ts: the HTTP-01 location
// every port-80 server includes before its redirect, and which of a tenant's names have a
// certificate of their own (served by SNI, a server block each) rather than the base one.

/** Where nginx sees <stateDir>/frontdoor/acme/challenges/ (mounted read-only, stack.ts). */
export const containerChallengeDir = '/var/lib/tenantctl-acme';
export const challengeConfFile = 'acme-challenge.conf';

/** acme-challenge.conf: the CA's (and the reachability check's) tokens, as plain files, on HTTP. */
export function renderAcmeChallenge(): string {
  return `# Rendered by tenantctl: ACME HTTP-01 tokens, answered on HTTP before any redirect.
location ^~ /.well-known/acme-challenge/ {
    alias ${containerChallengeDir}/;
    default_type text/plain;
    set $tenantctl_key_id "";
}
`;
}

/** The include line a port-80 server carries when the door gets certificates by ACME. */
export function acmeChallengeInclude(acme: boolean | undefined, indent = '    '): string {
  return acme ? `${indent}include ${challengeConfFile};\n` : '';
}

/**
 * A tenant's HTTPS names split by certificate: those served with the base certificate (one server
 * block), and those with their own (a server block each, t/<id>/certs/<name>.crt): custom domains
 * with a certificate, and the tenant's own host name when ACME issued it one.
 */
export function certificateSplit(hostname: string, domains: readonly { domain: string; ownCertificate: boolean }[], hostCertificate: boolean | undefined): { baseNames: string[]; ownNames: string[] } {
  return {
    baseNames: [...(hostCertificate ? [] : [hostname]), ...domains.filter((d) => !d.ownCertificate).map((d) => d.domain)],
    ownNames: [...(hostCertificate ? [hostname] : []), ...domains.filter((d) => d.ownCertificate).map((d) => d.domain)],
  };
}
