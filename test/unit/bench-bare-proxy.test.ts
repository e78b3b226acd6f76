// The bare proxy bench/frontdoor.mjs compares the door with is made from the door's rendered files
// (bench/bare-proxy.mjs): rendered here from a real renderFrontdoor output, it must keep the door's
// upstream to the app as it is (container address, published port as backup, keepalive, the idle
// timeout below the app's), so both proxies retry a failed connection on the same terms, and the
// door's TLS and keep-alive settings, and nothing of the door's checks.
import { describe, expect, it } from 'vitest';
import { bareProxyConf, keptDirectives } from '../../bench/bare-proxy.mjs';
import { loadConfig } from '../../src/config/load.js';
import { appIdleKeepaliveSeconds, renderFrontdoor, type RouteInput } from '../../src/frontdoor/render.js';
import { tempDir } from './temp-dirs.js';

const door = () => {
  const { config, errors } = loadConfig({ cwd: tempDir('bare-proxy-'), env: { TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'false' } });
  expect(errors).toEqual([]);
  const tenant: RouteInput = { id: 'bench', plan: 'enterprise', status: 'active', appPort: 3001, domains: [], snippet: false, appContainer: { address: '10.123.0.5', port: 3000 } };
  return renderFrontdoor({ config: config!.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant] });
};

describe('the bench\'s bare proxy', () => {
  it('keeps the door\'s upstream block, TLS and keep-alive settings, and none of its checks', () => {
    const files = door();
    const doorConf = files.get('nginx.conf')!;
    const serverConf = files.get('t/bench/server.conf')!;
    const { conf, appAddress } = bareProxyConf({ doorConf, serverConf, tenant: 'bench', port: 4443 });
    expect(appAddress).toBe('10.123.0.5:3000');
    const body = (text: string, head: string) => {
      const start = text.indexOf(head);
      expect(start, `${head} in ${text}`).toBeGreaterThanOrEqual(0);
      return text.slice(start + head.length, text.indexOf('}', start)).split('\n').map((line) => line.trim()).filter(Boolean);
    };
    const doorUpstream = body(serverConf, 'upstream tenantctl_app_bench {');
    expect(body(conf, 'upstream bare_app {')).toEqual(doorUpstream);
    expect(doorUpstream).toEqual(expect.arrayContaining([
      'server 10.123.0.5:3000 max_fails=1 fail_timeout=30s;',
      'server 127.0.0.1:3001 backup max_fails=0;',
      'keepalive 32;',
      `keepalive_timeout ${appIdleKeepaliveSeconds}s;`,
    ]));
    for (const name of keptDirectives) {
      const line = new RegExp(`^\\s*${name} [^;]*;`, 'm').exec(doorConf)?.[0].trim();
      expect(line, `${name} in the door's nginx.conf`).toBeDefined();
      expect(conf).toContain(line);
    }
    expect(conf).toContain(/^worker_processes (\S+);/m.exec(doorConf)![0]);
    expect(conf).toContain('proxy_pass http://bare_app;');
    expect(conf).not.toMatch(/auth_request|limit_req|access_log \/|add_header/);
  });

  it('refuses a door that does not dial the app\'s container address', () => {
    const files = door();
    const published = files.get('t/bench/server.conf')!.replace(/^\s*server 10\.123\.0\.5:3000 [^\n]*\n/m, '');
    expect(() => bareProxyConf({ doorConf: files.get('nginx.conf')!, serverConf: published, tenant: 'bench', port: 4443 })).toThrow(/container address/);
  });
});
