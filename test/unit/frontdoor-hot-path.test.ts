// What the front door's nginx does on every keyed request (bench/frontdoor.mjs measures it): no
// per-request work the configuration can spare, and the upstream settings that keep the door from
// refusing requests when an app closes idle connections (test/e2e/door-load.test.ts proves those live).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { appIdleKeepaliveSeconds, renderFrontdoor, type RouteInput } from '../../src/frontdoor/render.js';
import { tempDir } from './temp-dirs.js';

const config = () => {
  const { config, errors } = loadConfig({ cwd: tempDir('fd-hot-'), env: { TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'false' } });
  expect(errors).toEqual([]);
  return config!.frontdoor;
};
const tenant = (over: Partial<RouteInput> = {}): RouteInput => ({ id: 'acme-co', plan: 'standard', status: 'active', appPort: 3001, domains: [], snippet: false, ...over });
const render = (tenants: RouteInput[]) => renderFrontdoor({ config: config(), upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants });

/** The body of every `location <name> {` block in `text` (up to its first closing line at the same indent). */
const blocks = (text: string, name: string) => text.split(`location ${name} {`).slice(1).map((rest) => rest.slice(0, rest.search(/\n\s*\}\n/)));

describe('the keyed hot path', () => {
  it('proxies a passed key to the tenant\'s upstream by name, never through a variable looked up per request', () => {
    const server = render([tenant({ publicPaths: ['/api/open/'] })]).get('t/acme-co/server.conf')!;
    const api = blocks(server, '@tenantctl_api');
    expect(api.length).toBe(2); // plain HTTP and HTTPS
    for (const block of [...api, ...blocks(server, '^~ /api/open/')]) {
      expect(block).toContain('proxy_pass http://tenantctl_app_acme_co;');
      expect(block).not.toContain('$tenantctl_upstream');
    }
    expect(server).toContain('upstream tenantctl_app_acme_co {');
    // Operators' snippets may still name the variable.
    expect(server).toContain('set $tenantctl_upstream tenantctl_app_acme_co;');
  });

  it('compiles its regular expressions once and remembers that the try_files marker does not exist', () => {
    const files = render([tenant()]);
    expect(files.get('nginx.conf')).toMatch(/^pcre_jit on;$/m);
    for (const name of ['locations.conf', 'suspended-locations.conf']) {
      const api = blocks(files.get(name)!, '/api/');
      expect(api.length).toBe(1);
      expect(api[0]).toMatch(/open_file_cache_errors on;[\s\S]*try_files \/\.tenantctl-authenticated @tenantctl_/);
      // Still checked by the gateway first: the marker only routes a request that passed.
      expect(api[0]).toContain('auth_request /_tenantctl/auth;');
    }
  });

  it('ends idle connections to an app before the app does, and keeps the published port as a backup that is never set aside', () => {
    expect(appIdleKeepaliveSeconds).toBeLessThan(2); // gunicorn's idle timeout, the shortest common one
    const direct = render([tenant({ appContainer: { address: '10.123.0.5', port: 3000 } })]).get('t/acme-co/server.conf')!;
    const upstream = direct.slice(direct.indexOf('upstream tenantctl_app_acme_co {'), direct.indexOf('}\n'));
    expect(upstream).toContain('server 10.123.0.5:3000 max_fails=1 fail_timeout=30s;');
    expect(upstream).toContain('server 127.0.0.1:3001 backup max_fails=0;');
    expect(upstream).toContain(`keepalive_timeout ${appIdleKeepaliveSeconds}s;`);
    const published = render([tenant()]).get('t/acme-co/server.conf')!;
    expect(published.slice(0, published.indexOf('}\n'))).toContain(`keepalive_timeout ${appIdleKeepaliveSeconds}s;`);
  });
});
