import type { FrontdoorConfig } from '../config/schema.js';

// The http-level nginx directives that keep the gateway off the hot path of keyed API requests
// (rendered into nginx.conf by render.ts):
//
//  - The verdict cache. nginx caches the gateway's answer to /_tenantctl/auth for
//    verdictCacheSeconds, keyed by tenant, module area and the presented key headers, so a burst of
//    requests with one key costs one gateway round trip per second instead of one each. Measured on
//    a 2-core host: a Node round trip to the gateway is ~35 us of gateway CPU plus ~15 us of nginx
//    per request; a cache hit ~10 us of nginx, less once the cache file's descriptor is kept open
//    (open_file_cache: a hit is one read, no open/close; nginx checks the file's inode against the
//    cache entry on every hit, so a refreshed verdict, written to a new file, is never answered from
//    the old one). A revoked key
//    stops passing within verdictCacheSeconds + the gateway's keyCacheSeconds (<= 5 s). Only
//    200/401/403 are cached: a gateway that fails or is down (500/502/504) is never cached, so the
//    door fails closed as soon as the last good verdict expires. The cache key carries the presented
//    key, so the cache lives in a tmpfs of the nginx container (never on disk), readable by nginx's
//    workers only.
//
//  - The module area. Which module a path needs is decided here, from frontdoor.modulePaths, on the
//    raw $request_uri (what the gateway used to match), and sent to the gateway as
//    X-Tenantctl-Module-Area; the gateway's verdict depends only on (tenant, key, area), which is
//    exactly the cache key, so a cached verdict can never let a path of another module through.
//
//  - Usage from nginx, not from the auth subrequest (which a cache hit skips). Every request that
//    passed the key check ($tenantctl_key_id set) adds one JSON line to <usage dir>/usage.log
//    through a buffer nginx writes at least every second (one write per 64 KiB instead of one per
//    request). With the open verdict files: nginx CPU per keyed request ~55-60 us -> ~41-45 us
//    (2 workers; measured on one door with config variants). The nginx container's rotator
//    (images/nginx/rotate-usage) renames the file to <epoch second>.log every second it has lines
//    and has nginx reopen it; the gateway reads the renamed files, adds them to admin_api_usage in
//    one transaction and deletes them (apps/gateway/usage-files.ts). Each line carries its own time,
//    so it counts in its hour.

/** How long nginx trusts a verdict of the gateway. */
export const verdictCacheSeconds = 1;
/** The verdict cache's tmpfs in the nginx container (compose tmpfs mount, see stack.ts). */
export const containerVerdictCacheDir = '/var/cache/tenantctl-auth';
/** The usage files' directory in both containers (a bind mount of the layout's usage dir). */
export const containerUsageDir = '/var/log/tenantctl-usage';
/** The file nginx appends usage lines to; images/nginx/rotate-usage renames it each second. */
export const usageLogName = 'usage.log';

/** A module path prefix as an nginx regex on $request_uri, matching what the gateway matched on the path: the prefix, or the prefix without its final slash as the whole path. */
export function moduleAreaPattern(prefix: string): string {
  // Prefixes are validated as /api/[A-Za-z0-9._~/-]*: only '.' is special in a regex.
  const escaped = prefix.replace(/\./g, '\\.');
  return prefix.endsWith('/') ? `^${escaped.slice(0, -1)}(/|\\?|$)` : `^${escaped}`;
}

export function renderApiKeyDirectives(config: FrontdoorConfig): string {
  // Longest prefix first (nginx tries regexes in order), so /api/ai/assist/ beats /api/ai/.
  const areas = Object.entries(config.modulePaths)
    .sort((a, b) => b[0].length - a[0].length)
    .map(([prefix, module]) => `    "~*${moduleAreaPattern(prefix)}" ${module};`)
    .join('\n');
  // Case-insensitively: /api/AI/ is the ai module's for an app whose router ignores case.
  return `  # The module a path needs (frontdoor.modulePaths), decided once, here: the gateway gates on it.
  map $request_uri $tenantctl_module_area {
    default "";
${areas}
  }

  # The gateway's verdicts, cached briefly in a tmpfs (render-api-keys.ts says why and what it costs).
  proxy_cache_path ${containerVerdictCacheDir} levels=1 keys_zone=tenantctl_verdicts:10m max_size=64m inactive=${verdictCacheSeconds * 10}s use_temp_path=off;

  # Usage: one line per request that passed the key check, buffered; rotated each second for the gateway.
  # The status (quoted: nginx can log "000", no JSON number) lets the gateway count 4xx and 5xx answers.
  log_format tenantctl_usage escape=json '{"time":"$time_iso8601","tenant":"$tenantctl_tenant","key":"$tenantctl_key_id","uri":"$request_uri","status":"$status"}';
  access_log ${containerUsageDir}/${usageLogName} tenantctl_usage buffer=64k flush=1s if=$tenantctl_key_id;`;
}

/** The cache directives of the /_tenantctl/auth location. */
export function renderVerdictCache(): string {
  return `proxy_cache tenantctl_verdicts;
    proxy_cache_key "$tenantctl_tenant|$tenantctl_module_area|$http_authorization|$http_x_api_key";
    proxy_cache_valid 200 401 403 ${verdictCacheSeconds}s;
    # No cache lock: requests waiting on a lock poll for it every 500 ms (measured: p99 465 ms at
    # saturation, each time a verdict expired). Without it, the requests that arrive during the one
    # refresh round trip each ask the gateway, which answers them from one lookup (its in-flight map).
    proxy_cache_lock off;
    # Keeps cache files' descriptors open between hits (a hit is then one read, no open/close).
    # Bounded well below the workers' descriptor limit (worker_rlimit_nofile in nginx.conf).
    open_file_cache max=2000 inactive=20s;
    open_file_cache_valid ${verdictCacheSeconds}s;
    open_file_cache_min_uses 1;
    proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;
    proxy_set_header X-Tenantctl-Module-Area $tenantctl_module_area;`;
}
