import type { FrontdoorConfig } from '../config/schema.js';
import { renderApiKeyDirectives, renderVerdictCache } from './render-api-keys.js';
import { addressKeyVariable, renderEdgeDirectives } from './render-edge.js';
import type { AppContainerAddress } from './app-addresses.js';
import { jsonText, suspendedApiError, suspendedPage } from './suspension-text.js';
import { acmeChallengeInclude, certificateLines, certificateSplit, challengeConfFile, renderAcmeChallenge } from './render-acme.js';

// Pure rendering of the front door's nginx configuration: one generation directory holding
// nginx.conf, the shared location rules, and one folder per tenant (t/<id>/: its server blocks, its
// optional snippet, its custom domains' certificates). Everything a generation needs is inside it and
// every include is relative, so a generation is tested (`nginx -t -c gen-N/nginx.conf`) and made live
// (the `live` symlink) as a whole, and a tenant's folder can be swapped for its last good one.
//
// Every value written here is validated before it gets here (tenant ids are DNS labels, domains are
// DNS names, ports are integers), so nothing a user types can add a directive.

/** What the front door knows of one tenant. */
export interface RouteInput {
  id: string;
  plan: string;
  status: string;
  /** Why it is suspended (status suspended): on its page and in its API's 401. */
  suspensionReason?: string | null;
  /** What its page tells visitors (suspend --public-message); null: a generic page. */
  suspensionMessage?: string | null;
  /** Host port of its app (published on bindAddress). */
  appPort: number | null;
  /** Its app container's own address, dialled first (app-addresses.ts); the published port is the fallback. */
  appContainer?: AppContainerAddress;
  /** Where its Docker host publishes appPort when that is another host of the fleet (its address); default upstreamAddress. */
  publishedAddress?: string;
  /** Custom domains, and whether each has its own certificate in t/<id>/certs/<domain>.crt|key. */
  domains: { domain: string; ownCertificate: boolean }[];
  /** t/<id>/snippet.conf exists: the operator's own directives for this tenant's server blocks. */
  snippet: boolean;
  /** Prefixes under /api/ its template declares public (x-tenantctl.frontdoor.publicPaths): no key needed. */
  publicPaths?: readonly string[];
  /** <id>.<baseDomain> has its own (ACME) certificate. */
  hostCertificate?: boolean;
  /**
   * Names whose own certificate nginx reads from the ACME folder (mounted read-only, one PEM with
   * chain and key per name) instead of t/<id>/certs/: the agent renews those in place, then reloads.
   */
  acmeNames?: readonly string[];
}

export interface RenderInput {
  config: FrontdoorConfig;
  /** Where nginx (in the host's network namespace) dials tenants' published app ports. */
  upstreamAddress: string;
  generation: number;
  tenants: readonly RouteInput[];
  /** Cores of the host nginx runs on (for frontdoor.workerProcesses "half"). */
  hostCores: number;
  /** Certificates by ACME: every port-80 server answers HTTP-01 challenges (render-acme.ts). */
  acme?: boolean;
}

/**
 * nginx's worker_processes. "half" is the default because the door shares the host's cores with the
 * tenants' apps: measured on 2 cores (bench/frontdoor.mjs), one worker served keyed requests at
 * 1.22x / 0.87x (HTTP / HTTPS) of the app's own port, two workers at 0.79x / 0.71x: with a worker
 * per core, nginx, the apps and the client fight over both cores and each worker's event loop
 * wakes for fewer requests at a time (nginx CPU per keyed request 51 us with two, 40 us with one).
 */
export function nginxWorkers(setting: FrontdoorConfig['workerProcesses'], hostCores: number): number | 'auto' {
  return setting === 'half' ? Math.max(1, Math.floor(hostCores / 2)) : setting;
}

/**
 * How long nginx keeps an idle connection to a tenant's app: shorter than the idle timeout of any
 * common app server (Node's and uvicorn's 5 s, gunicorn's 2 s), so the app never closes a connection
 * nginx is about to reuse. With nginx's default (60 s) the app closed idle connections first (the
 * tenant app after 5 s), and a request nginx sent on one as it closed failed; one such failure set
 * the container's address aside for 30 s (max_fails=1), the next on the published port set that
 * aside too, and the door answered every request 503 until they came back (bench/frontdoor.mjs:
 * 5,298 503s in one second; test/e2e/door-load.test.ts makes the race certain). A new connection
 * after a second of idleness costs a TCP handshake on a local bridge.
 */
export const appIdleKeepaliveSeconds = 1;

/** Host name of the loopback-only status server that says which generation is live. */
export const statusHost = 'tenantctl-status.invalid';

/**
 * How a tenant is served: routed to its app, a short 503 page, or (suspended) the suspension page
 * and 401s naming it. Deprovisioned ones are not served (404).
 */
export function routeKind(tenant: Pick<RouteInput, 'status' | 'appPort'>): 'route' | 'unavailable' | 'suspended' | 'none' {
  if (tenant.status === 'deprovisioned') return 'none';
  if (tenant.status === 'suspended') return 'suspended';
  if (tenant.status === 'active' && tenant.appPort !== null) return 'route';
  return 'unavailable';
}

export function tenantHostnames(tenant: Pick<RouteInput, 'id' | 'domains'>, baseDomain: string): string[] {
  return [`${tenant.id}.${baseDomain}`, ...tenant.domains.map((d) => d.domain)];
}

/** nginx.conf, locations.conf and t/<id>/server.conf for each served tenant: path (relative to the generation) -> content. */
export function renderFrontdoor(input: RenderInput): Map<string, string> {
  const files = new Map<string, string>();
  files.set('nginx.conf', renderMain(input));
  files.set('locations.conf', renderLocations());
  files.set('suspended-locations.conf', renderSuspendedLocations());
  files.set('proxy-headers.conf', renderProxyHeaders());
  files.set('generation', `${input.generation}\n`);
  if (input.acme) files.set(challengeConfFile, renderAcmeChallenge());
  for (const tenant of input.tenants) {
    const server = renderTenant(input, tenant);
    if (server !== undefined) files.set(`t/${tenant.id}/server.conf`, server);
  }
  return files;
}

function listen(config: FrontdoorConfig, which: 'http' | 'https', extra = ''): string {
  const port = which === 'http' ? config.httpPort : config.httpsPort;
  return `listen ${config.listenAddress}:${port}${which === 'https' ? ' ssl' : ''}${extra};`;
}

function renderMain({ config, generation, hostCores, acme }: RenderInput): string {
  const rate = (plan: keyof FrontdoorConfig['rateLimits']) =>
    `  limit_req_zone $tenantctl_tenant zone=tenantctl_${plan}:10m rate=${config.rateLimits[plan].requestsPerSecond}r/s;`;
  return `# Rendered by tenantctl (generation ${generation}); do not edit: \`tenantctl frontdoor reload\` renders it again.
user www-data;
# frontdoor.workerProcesses (${config.workerProcesses}; "half" by default: the door shares the cores with tenants' apps).
worker_processes ${nginxWorkers(config.workerProcesses, hostCores)};
# The door's maps run regular expressions on every request (canonical paths, module areas, keys):
# compiled to machine code once, not interpreted per request.
pcre_jit on;
# The usage log's rotator (images/nginx/rotate-usage) signals the master through this file.
pid /run/nginx.pid;
error_log stderr warn;

# Room for every connection twice (client and upstream) and the verdict cache's open files,
# whatever soft limit the engine gives containers (1024 on Docker 25+).
worker_rlimit_nofile 32768;

events {
  worker_connections 8192;
}

http {
  default_type application/octet-stream;
  server_tokens off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 10000;
  client_max_body_size 25m;
  server_names_hash_bucket_size 128;
  server_names_hash_max_size 65536;
  variables_hash_bucket_size 128;

  # The request id: the client's own X-Request-Id when it is a sane token, else nginx's.
  map $http_x_request_id $tenantctl_request_id {
    default $request_id;
    "~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;
  }
  # WebSocket upgrades pass through; other requests reuse upstream connections (empty Connection).
  map $http_upgrade $tenantctl_connection {
    default upgrade;
    "" "";
  }
  ${config.accessLog
    ? `log_format tenantctl escape=json '{"time":"$time_iso8601","request_id":"$tenantctl_request_id","tenant":"$tenantctl_tenant","host":"$host","method":"$request_method","uri":"$uri","status":$status,"bytes":$body_bytes_sent,"duration":$request_time,"upstream_duration":"$upstream_response_time","key_id":"$tenantctl_key_id"}';
  access_log /dev/stdout tenantctl;`
    : '# No request log (frontdoor.accessLog); the usage log below is always on.'}

${renderApiKeyDirectives(config)}

${renderEdgeDirectives(config)}

  # Per-tenant rate limits of authenticated API calls, one zone per plan, keyed by the tenant id
  # (set by each tenant's server), applied in @tenantctl_api: after the key check (render-edge.ts).
${rate('starter')}
${rate('standard')}
${rate('enterprise')}
  limit_req_status 429;
  limit_req_log_level warn;

  # Defaults for every location; a tenant's location rules are in locations.conf.
  proxy_http_version 1.1;
  proxy_connect_timeout 5s;
  # Long reads: WebSockets and server-sent events are not cut at 60 s; responses stream unbuffered.
  proxy_read_timeout 3600s;
  proxy_send_timeout 3600s;
  proxy_buffering off;
  proxy_request_buffering off;

  ssl_session_cache shared:tenantctl_tls:20m;
  ssl_session_timeout 1h;
  ssl_session_tickets off;
  ssl_certificate tls/base.crt;
  ssl_certificate_key tls/base.key;

  upstream tenantctl_gateway {
    server 127.0.0.1:${config.gatewayPort} max_fails=0;
    keepalive 64;
  }

  # Unknown hosts: 404 (on HTTPS with the base certificate).
  server {
    ${listen(config, 'http', ' default_server')}
    ${listen(config, 'https', ' http2 default_server')}
    server_name _;
    set $tenantctl_tenant "";
    set ${addressKeyVariable} $binary_remote_addr;
    limit_req zone=tenantctl_address burst=${config.addressRateLimit.burst} nodelay;
    set $tenantctl_key_id "";
    default_type application/json;
    error_page 429 = @tenantctl_rate_limited;
${acmeChallengeInclude(acme)}    location / {
      return 404 '{"error":"not found","message":"no tenant answers at this host name"}\\n';
    }
    location @tenantctl_rate_limited {
      add_header Retry-After 1 always;
      return 429 '{"error":"too many requests","message":"slow down: retry after the number of seconds in Retry-After"}\\n';
    }
  }

  # Which generation is live, for tenantctl to confirm a reload; loopback only.
  server {
    ${listen(config, 'http')}
    server_name ${statusHost};
    allow 127.0.0.1;
    deny all;
    set $tenantctl_tenant "";
    set $tenantctl_key_id "";
    default_type text/plain;
    location = /generation {
      return 200 '${generation}\\n';
    }
  }

  include t/*/server.conf;
}
`;
}

/**
 * How every location hands a request to the tenant's app: `upstream` is its upstream block's name
 * in a tenant's own server.conf, else $tenantctl_upstream (set by its server) in the shared
 * locations.conf. A name costs nothing per request; with a variable nginx parses the URL and looks
 * the upstream up among all of them (one per tenant, compared one by one) on every request.
 */
const proxyDirectives = (keyId = '""', upstream = '$tenantctl_upstream') => `proxy_pass http://${upstream};
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host;
    proxy_set_header X-Forwarded-Port $server_port;
    proxy_set_header X-Forwarded-Scheme $scheme;
    # Headers an app or its framework may trust for the client's address, scheme or path: the door
    # says none of them, so what a client sent is dropped (nginx sends no header set to "").
    proxy_set_header Forwarded "";
    proxy_set_header X-Forwarded-Prefix "";
    proxy_set_header X-Forwarded-Ssl "";
    proxy_set_header X-Original-URL "";
    proxy_set_header X-Rewrite-URL "";
    proxy_set_header True-Client-IP "";
    proxy_set_header X-Client-IP "";
    proxy_set_header X-Request-Id $tenantctl_request_id;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $tenantctl_connection;
    # Set by the door, whatever the client sent: the key's id only after the key check, else none.
    proxy_set_header X-Api-Key-Id ${keyId};
    add_header X-Request-Id $tenantctl_request_id always;
    add_header Strict-Transport-Security $tenantctl_hsts always;`;

/**
 * The headers the door sets on what it proxies to an app, for the operator's snippet locations
 * (renderSnippet): the door's own values, whatever the client sent (no key id: no key was checked there).
 */
function renderProxyHeaders(): string {
  const headers = proxyDirectives().split('\n').filter((line) => line.trim().startsWith('proxy_set_header')).map((line) => line.trim());
  return `# Rendered by tenantctl: the headers the door sets on every request it proxies to an app, included
# at the top of each location of an operator's snippet (t/<id>/snippet.conf).
${headers.join('\n')}
`;
}

/**
 * An operator's snippet (<stateDir>/frontdoor/snippets/<id>.conf) as it goes into the generation:
 * `include proxy-headers.conf;` first in every location block it opens. A location that sets any
 * proxy_set_header of its own inherits none of the server's (nginx), so without this a snippet's
 * location would pass a client's own X-Api-Key-Id, X-Forwarded-For or X-Real-IP to the app. The
 * operator's own proxy_set_header lines still apply after the door's.
 */
export function renderSnippet(text: string): string {
  return text.replace(/(^|[;{}\s])(location\s[^{};#]*\{)/g, '$1$2 include proxy-headers.conf;');
}

/**
 * The open_file_cache of the /api/ locations, whose try_files names a file that never exists (the
 * image's filesystem is read-only): its absence is kept for a minute per worker.
 */
const absentFileCache = 'open_file_cache max=16 inactive=60s; open_file_cache_valid 60s; open_file_cache_errors on;';

/** The rules every routed tenant's server uses; the server sets $tenantctl_tenant and $tenantctl_upstream. */
function renderLocations(): string {
  const proxy = proxyDirectives();
  return `# Rendered by tenantctl: the location rules of every routed tenant.
${rulesPrelude('')}error_page 502 504 = @tenantctl_app_unavailable;

# Health and readiness answer without a key.
location = /api/health {
    ${proxy}
}
location = /api/ready {
    ${proxy}
}

# The API needs a key of this tenant, checked by the gateway (auth_request), and the module its path
# belongs to. A request presenting no well-formed key is limited per address first; one that passes
# goes on to @tenantctl_api (each tenant's server.conf), where its plan's limit counts it.
${apiKeyLocation('@tenantctl_api', '    error_page 502 504 = @tenantctl_app_unavailable;\n', 'A tenant suspended since this generation was rendered: the gateway says so until the next sync.')}
location / {
    ${proxy}
}

${keyCheckLocations()}`;
}

/**
 * What both kinds of location rules (routed, suspended) start with; `headers`: more add_header
 * lines of the server's own answers.
 */
function rulesPrelude(headers: string): string {
  return `# For what the server itself answers (the 400 below); every location sets its own.
add_header X-Request-Id $tenantctl_request_id always;
add_header Strict-Transport-Security $tenantctl_hsts always;
${headers}# A path an app could read differently from the door (render-edge.ts): refused before anything else.
if ($tenantctl_noncanonical) {
    return 400 '{"error":"bad request","message":"non-canonical path (//, /./, /../, percent-encoded unreserved characters or /API in another case)"}\\n';
}
set $tenantctl_key_id "";
set $tenantctl_reason "";
set $tenantctl_module "";
set $tenantctl_throttled "";
set $tenantctl_suspended "";
# Per client address, everywhere but authenticated API calls (@tenantctl_api, the plan's zone).
set ${addressKeyVariable} $binary_remote_addr;
error_page 429 = @tenantctl_rate_limited;
`;
}

/**
 * The /api/ location: the key checked by the gateway (auth_request, keyCheckLocations), a refusal
 * answered by the named locations, and a request that passed handed to `passed`; `errorPages`: more
 * error_page lines; `suspendedWhy`: what the gateway's suspended header means in this file.
 */
function apiKeyLocation(passed: string, errorPages: string, suspendedWhy: string): string {
  return `location /api/ {
    set ${addressKeyVariable} $tenantctl_keyless_address;
    auth_request /_tenantctl/auth;
    auth_request_set $tenantctl_key_id $upstream_http_x_tenantctl_key_id;
    auth_request_set $tenantctl_reason $upstream_http_x_tenantctl_reason;
    auth_request_set $tenantctl_module $upstream_http_x_tenantctl_module;
    auth_request_set $tenantctl_throttled $upstream_http_x_tenantctl_throttled;
    # ${suspendedWhy}
    auth_request_set $tenantctl_suspended $upstream_http_x_tenantctl_suspended;
    error_page 401 = @tenantctl_unauthorized;
    error_page 403 = @tenantctl_forbidden;
    error_page 429 = @tenantctl_rate_limited;
    error_page 500 = @tenantctl_gateway_unavailable;
${errorPages}    # Runs after the access phase: only a request the gateway passed gets here. No such file exists;
    # that it does not is remembered (open_file_cache_errors), so this costs no stat() per request.
    ${absentFileCache}
    try_files /.tenantctl-authenticated ${passed};
}
`;
}

/**
 * The key check's subrequest and the answers it leads to, in every served tenant's server: a routed
 * one's (locations.conf) and a suspended one's (suspended-locations.conf).
 */
function keyCheckLocations(): string {
  return `location = /_tenantctl/auth {
    internal;
    # The subrequest inherits the server's per-address limit and shares $limit_req_status with its
    # request: an empty key here keeps it from counting (and from using up the one limit_req pass
    # that @tenantctl_api's plan limit needs).
    set ${addressKeyVariable} "";
    proxy_pass http://tenantctl_gateway/auth;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
    proxy_set_header X-Tenantctl-Tenant $tenantctl_tenant;
    # Who asks, for the gateway's limit on lookups of unknown keys (the client's own header of this
    # name is replaced); a throttled verdict is never cached.
    proxy_set_header X-Tenantctl-Client $remote_addr;
    proxy_no_cache $upstream_http_x_tenantctl_throttled;
    proxy_set_header X-Original-Uri $request_uri;
    proxy_set_header X-Original-Method $request_method;
    proxy_connect_timeout 1s;
    proxy_send_timeout 5s;
    proxy_read_timeout 5s;
    proxy_buffering on;
    ${renderVerdictCache()}
}

${jsonErrorLocation('@tenantctl_rate_limited', 429, 1, '{"error":"too many requests","message":"slow down: retry after the number of seconds in Retry-After"}')}
location @tenantctl_unauthorized {
    default_type application/json;
    # The gateway stopped looking up this address's made-up keys for this second.
    if ($tenantctl_throttled) {
        add_header Retry-After 1 always;
        add_header X-Request-Id $tenantctl_request_id always;
        add_header Strict-Transport-Security $tenantctl_hsts always;
        return 429 '{"error":"too many requests","message":"too many unknown API keys from this address: retry after the number of seconds in Retry-After"}\\n';
    }
    # A key of this tenant, which is suspended (the gateway's X-Tenantctl-Suspended: the reason as JSON text).
    if ($tenantctl_suspended) {
        add_header X-Request-Id $tenantctl_request_id always;
        add_header Strict-Transport-Security $tenantctl_hsts always;
        add_header Cache-Control no-store always;
        return 401 '${suspendedApiError('$tenantctl_suspended')}\\n';
    }
    add_header WWW-Authenticate 'Bearer realm="$host"' always;
    add_header X-Request-Id $tenantctl_request_id always;
    add_header Strict-Transport-Security $tenantctl_hsts always;
    return 401 '{"error":"unauthorized","reason":"$tenantctl_reason"}\\n';
}
${jsonErrorLocation('@tenantctl_forbidden', 403, undefined, '{"error":"forbidden","module":"$tenantctl_module","message":"the $tenantctl_module module is not enabled for this tenant"}')}
# The gateway is down or failing: fail closed.
${jsonErrorLocation('@tenantctl_gateway_unavailable', 503, 5, '{"error":"unavailable","message":"API keys cannot be checked right now"}')}
${jsonErrorLocation('@tenantctl_app_unavailable', 503, 5, `{"error":"unavailable","message":"the tenant\\'s app is not answering"}`)}
`;
}

/** A named location answering `status` with a JSON body (in nginx's single quotes: a ' in it written \', its $variables expanded), the door's headers, and a Retry-After of `retryAfter` seconds when given. */
function jsonErrorLocation(name: string, status: number, retryAfter: number | undefined, body: string): string {
  return `location ${name} {
    default_type application/json;
${retryAfter === undefined ? '' : `    add_header Retry-After ${retryAfter} always;\n`}    add_header X-Request-Id $tenantctl_request_id always;
    add_header Strict-Transport-Security $tenantctl_hsts always;
    return ${status} '${body}\\n';
}`;
}

/**
 * The location rules of a suspended tenant's servers (its server sets $tenantctl_tenant and defines
 * @tenantctl_suspended_api and / with its reason, render.ts renderTenant): nothing is proxied. An
 * API call is key-checked as usual, so only the tenant's own keys learn of the suspension (the
 * gateway's 401 with X-Tenantctl-Suspended); a key that still passes (a verdict cached from before
 * the suspension, at most keyCacheSeconds + 1 s) gets the same 401 from the server itself.
 */
function renderSuspendedLocations(): string {
  return `# Rendered by tenantctl: the location rules of every suspended tenant (nothing is proxied).
${rulesPrelude('add_header Cache-Control no-store always;\n')}
# Health and readiness answer without a key: the tenant is down on purpose.
location = /api/health {
    default_type application/json;
    return 503 '{"error":"suspended","message":"this tenant is suspended"}\\n';
}
location = /api/ready {
    default_type application/json;
    return 503 '{"error":"suspended","message":"this tenant is suspended"}\\n';
}

${apiKeyLocation('@tenantctl_suspended_api', '', "The gateway's refusal of this suspended tenant's keys says so (X-Tenantctl-Suspended).")}
${keyCheckLocations()}
`;
}

/** One server block: its listen line, its names, and what it holds (lines indented by four). */
function serverBlock(listenLine: string, names: readonly string[], inner: string): string {
  return `server {
    ${listenLine}
    server_name ${names.join(' ')};
${inner}}
`;
}

/**
 * A tenant's server blocks, each holding `body`: plain HTTP on all its names (with the ACME
 * challenge; a 308 to HTTPS instead when `redirect`), HTTPS on the names the base domain's wildcard
 * certificate covers, and one HTTPS server per name with a certificate of its own.
 */
function tenantServers(config: FrontdoorConfig, tenant: RouteInput, names: readonly string[], challenge: string, body: string, redirect: boolean): string {
  const { baseNames, ownNames } = certificateSplit(names[0]!, tenant.domains, tenant.hostCertificate);
  const toHttps = `    location / {
        return 308 https://$host${config.httpsPort === 443 ? '' : `:${config.httpsPort}`}$request_uri;
    }
`;
  return serverBlock(listen(config, 'http'), names, `${challenge}${redirect ? toHttps : body}`)
    + (baseNames.length === 0 ? '' : serverBlock(listen(config, 'https'), baseNames, body))
    + ownNames.map((name) => serverBlock(listen(config, 'https'), [name], `${certificateLines(tenant, name)}${body}`)).join('');
}

function renderTenant({ config, upstreamAddress, acme }: RenderInput, tenant: RouteInput): string | undefined {
  const kind = routeKind(tenant);
  if (kind === 'none') return undefined;
  const names = tenantHostnames(tenant, config.baseDomain);
  const challenge = acmeChallengeInclude(acme);
  const header = `# Rendered by tenantctl: tenant ${tenant.id} (${tenant.status}, plan ${tenant.plan}).\n`;
  const snippet = tenant.snippet ? `    include t/${tenant.id}/snippet.conf;\n` : '';

  if (kind === 'suspended') {
    // The reason is internal: only a request whose key passed the gateway (the tenant's own key,
    // with a verdict cached from before the suspension) reads it here; visitors get the page, which
    // shows the public message or a generic text.
    const reason = tenant.suspensionReason || 'no reason recorded';
    const body = `    set $tenantctl_tenant ${tenant.id};
    limit_req zone=tenantctl_address burst=${config.addressRateLimit.burst} nodelay;
    include suspended-locations.conf;
    # A key that still passed the check (a verdict cached from before the suspension).
    location @tenantctl_suspended_api {
        default_type application/json;
        add_header X-Request-Id $tenantctl_request_id always;
        add_header Strict-Transport-Security $tenantctl_hsts always;
        add_header Cache-Control no-store always;
        return 401 '${suspendedApiError(jsonText(reason))}\\n';
    }
    # Browsers: 503, not 403: the service is down on purpose and comes back with tenantctl resume;
    # crawlers keep its pages and caches keep nothing (no-store).
    location / {
        default_type text/html;
        charset utf-8;
        return 503 '${suspendedPage(tenant.id, tenant.suspensionMessage ?? null)}\\n';
    }
`;
    // Plain HTTP as for a routed tenant: redirected to HTTPS when frontdoor.redirectHttp is on.
    return `${header}${tenantServers(config, tenant, names, challenge, body, config.redirectHttp)}`;
  }

  if (kind === 'unavailable') {
    const page = `<!doctype html><title>Unavailable</title><h1>Service unavailable</h1><p>${tenant.id} is ${tenant.status === 'stopped' ? 'stopped' : 'not available'} right now. Please try again later.</p>\\n`;
    const body = `    set $tenantctl_tenant ${tenant.id};
    set $tenantctl_key_id "";
    default_type text/html;
    add_header Retry-After 30 always;
    add_header Strict-Transport-Security $tenantctl_hsts always;
    location / {
        return 503 '${page}';
    }
`;
    // Plain HTTP too, never redirected: the page says it is down on either.
    return `${header}${tenantServers(config, tenant, names, challenge, body, false)}`;
  }

  const upstreamName = `tenantctl_app_${tenant.id.replace(/-/g, '_')}`;
  const limits = config.rateLimits[tenant.plan as keyof FrontdoorConfig['rateLimits']] ?? config.rateLimits.standard;
  const zone = tenant.plan in config.rateLimits ? tenant.plan : 'standard';
  const routed = `    set $tenantctl_tenant ${tenant.id};
    set $tenantctl_upstream ${upstreamName};
    # Per client address (keyless and non-API requests); the plan's limit is in @tenantctl_api.
    limit_req zone=tenantctl_address burst=${config.addressRateLimit.burst} nodelay;
    include locations.conf;
    # An API request whose key passed: counted against the tenant's plan (${tenant.plan}), then proxied.
    location @tenantctl_api {
        limit_req zone=tenantctl_${zone} burst=${limits.burst} nodelay;
        error_page 429 = @tenantctl_rate_limited;
        error_page 502 504 = @tenantctl_app_unavailable;
    ${proxyDirectives('$tenantctl_key_id', upstreamName)}
    }
${[...new Set(tenant.publicPaths ?? [])].map((prefix) => `    # Public in its template (x-tenantctl.frontdoor.publicPaths): no API key needed.
    location ^~ ${prefix} {
    ${proxyDirectives('""', upstreamName)}
    }
`).join('')}${snippet}`;
  // The container directly when its address is known (no docker-proxy hop); a failed connect to it
  // (a stale address) sets it aside for 30 s and the published port serves meanwhile. The published
  // port is never set aside itself (max_fails=0): it is the last way to the app, and with it marked
  // down as well every request would be refused at once ("no live upstreams") until it came back.
  const published = `${tenant.publishedAddress ?? upstreamAddress}:${tenant.appPort}`;
  const servers = tenant.appContainer
    ? `    server ${tenant.appContainer.address}:${tenant.appContainer.port} max_fails=1 fail_timeout=30s;
    server ${published} backup max_fails=0;`
    : `    server ${published} max_fails=0;`;
  const upstream = `upstream ${upstreamName} {
${servers}
    keepalive 32;
    # The door, not the app, ends idle connections (appIdleKeepaliveSeconds says why).
    keepalive_timeout ${appIdleKeepaliveSeconds}s;
}
`;
  return `${header}${upstream}${tenantServers(config, tenant, names, challenge, routed, config.redirectHttp)}`;
}
