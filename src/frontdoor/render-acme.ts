// The front door's side of ACME (src/frontdoor/acme/), kept out of render.ts: the HTTP-01 location
// every port-80 server includes before its redirect, and which of a tenant's names have a
// certificate of their own (served by SNI, a server block each) rather than the base one.

/** Where nginx sees <stateDir>/frontdoor/acme/challenges/ (mounted read-only, stack.ts). */
export const containerChallengeDir = '/var/lib/tenantctl-acme';
export const challengeConfFile = 'acme-challenge.conf';
/**
 * Where nginx sees <stateDir>/frontdoor/acme/certs/ (mounted read-only, stack.ts): each ACME name's
 * <name>.pem, its chain and key in one file replaced by one rename, so a reload never reads a new
 * certificate with an old key. The agent renews there and reloads nginx without a new generation.
 */
export const containerAcmeCertsDir = '/var/lib/tenantctl-acme-certs';

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

/** A server block's certificate lines: from the ACME folder for an ACME name, else the generation's own copy. */
export function certificateLines(tenant: { id: string; acmeNames?: readonly string[] }, name: string): string {
  if (tenant.acmeNames?.includes(name)) {
    return `    ssl_certificate ${containerAcmeCertsDir}/${name}.pem;
    ssl_certificate_key ${containerAcmeCertsDir}/${name}.pem;
`;
  }
  return `    ssl_certificate t/${tenant.id}/certs/${name}.crt;
    ssl_certificate_key t/${tenant.id}/certs/${name}.key;
`;
}
