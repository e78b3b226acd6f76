import type { FrontdoorConfig } from '../config/schema.js';

// The http-level nginx directives that make the door hold against a stranger (rendered into
// nginx.conf by render.ts; review 2026-12-05 items 12-14):
//
//  - Canonical paths. nginx matches locations on its normalised $uri, the module areas on the raw
//    $request_uri, and tenants' apps route on the raw URI with rules of their own (case-insensitive
//    routers, frameworks that decode %61 or merge //). Rather than guess every app's rules, the door
//    refuses what could be read two ways: `//`, `/./`, `/../` (and a final `/.` or `/..`),
//    percent-encoded unreserved characters, encoded `/`, `\`, `;`, `%` and NUL, a raw `\` or `;`
//    in the path, and a case variant of `/api`.
//    What passes is proxied byte for byte, and is the same path nginx judged.
//
//  - Limits a stranger cannot spend. limit_req runs before the key check (preaccess comes before
//    auth_request's access phase) and applies once per request: the first pass with a non-empty key
//    sets $limit_req_status and later passes skip theirs. So an /api/ request that presents no
//    well-formed key is limited per client address in its first pass; one that presents a
//    well-formed key has an empty key there (nothing is counted) and its tenant's plan zone counts it
//    only in @tenantctl_api, which it reaches after auth_request passed (try_files, precontent
//    phase). Everything else (pages, health, public paths) is limited per address.
//    $binary_remote_addr is the peer nginx sees: X-Forwarded-For is trusted from nothing.
//
//  - TLS like a public site: TLS 1.2 and 1.3, AEAD ciphers with forward secrecy only (no CBC, no
//    RSA key exchange), OCSP stapling for certificates that name a responder (nginx skips it,
//    with a warning, for ones that do not: the local CA's), and HSTS for the base domain's names.

/** The per-address zone's key for a request: set per location (render.ts), empty where the plan's zone counts instead. */
export const addressKeyVariable = '$tenantctl_address_key';

/** TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305. TLS 1.3's are all AEAD (OpenSSL's defaults). */
export const tlsCiphers = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const hstsValue = 'max-age=31536000; includeSubDomains';

/** Regex (for nginx's map, on $request_uri) of a path the door refuses as non-canonical. */
export const nonCanonicalPatterns: readonly string[] = [
  // An empty segment: //
  '^[^?]*//',
  // A dot segment: /./ /../ or a final /. /..
  '^[^?]*/\\.\\.?(/|\\?|$)',
  // A percent-encoded unreserved character (ALPHA DIGIT - . _ ~), or an encoded / \\ ; % or NUL
  // (%25: a second decoding, in an app or a proxy behind it, would read another path).
  '^[^?]*%(2[dDeEfF5]|3[0-9bB]|[46][1-9a-fA-F]|[57][0-9aA]|5[cCfF]|7[eE]|00)',
  // A backslash (WHATWG URL parsers, Node's among them, read it as /) or a semicolon (servlet-style
  // routers drop ;parameters): /api\\ping and /api;/ping would be /api/ping to the app, not to nginx.
  '^[^?]*[\\x5c;]',
  // /api in another case (/API/, /Api/): a case-insensitive router would route it past the key check.
  '^/(?!api(/|\\?|$))(?i:api)(/|\\?|$)',
];

export function renderEdgeDirectives(config: FrontdoorConfig): string {
  const escapedBase = config.baseDomain.replace(/\./g, '\\.');
  return `  # Paths that apps could read differently from the door: refused with 400 (render-edge.ts).
  map $request_uri $tenantctl_noncanonical {
    default 0;
${nonCanonicalPatterns.map((p) => `    "~${p}" 1;`).join('\n')}
  }

  # /api/ requests presenting no well-formed key are limited per address before the key check;
  # the ones presenting one are counted by their tenant's plan once the key passed (render-edge.ts).
  map "$http_authorization|$http_x_api_key" $tenantctl_keyless_address {
    default $binary_remote_addr;
    "~^(?i:bearer)\\s+tk_live_[0-9A-Za-z]{32}\\s*\\|" "";
    "~\\|\\s*tk_live_[0-9A-Za-z]{32}\\s*$" "";
  }
  limit_req_zone ${addressKeyVariable} zone=tenantctl_address:20m rate=${config.addressRateLimit.requestsPerSecond}r/s;

  # HSTS for the base domain's names over HTTPS (frontdoor.hsts); empty (no header) elsewhere.
  map "$https|$host" $tenantctl_hsts {
    default "";
${config.hsts ? `    "~^on\\|([^|]*\\.)?${escapedBase}$" "${hstsValue}";` : '    # frontdoor.hsts is off.'}
  }

  # TLS 1.2+, AEAD ciphers only; OCSP stapling where the certificate names a responder.
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ${tlsCiphers};
  ssl_prefer_server_ciphers off;
  ssl_stapling on;`;
}
