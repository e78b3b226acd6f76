// The bare nginx TLS reverse proxy's nginx.conf (environment.mjs's startBareProxy runs it): made
// from the door's own rendered files, so it cannot drift from what src/frontdoor/render.ts renders
// (test/unit/bench-bare-proxy.test.ts renders a door and checks it).

/** The http-level directives of the door's nginx.conf that the bare proxy keeps: client keep-alive, the connect timeout, TLS. */
export const keptDirectives = ['keepalive_timeout', 'keepalive_requests', 'proxy_connect_timeout', 'ssl_protocols', 'ssl_ciphers', 'ssl_prefer_server_ciphers', 'ssl_session_timeout', 'ssl_session_tickets'];

/**
 * nginx.conf of the bare proxy for `tenant`, from the door's live nginx.conf (`doorConf`) and the
 * tenant's server.conf (`serverConf`): the door's worker count and kept directives, the tenant's
 * upstream block verbatim (renamed bare_app), one TLS server on 127.0.0.1:`port` proxying
 * everything to it with Host and an empty Connection; and the app's container address the door dials.
 */
export function bareProxyConf({ doorConf, serverConf, tenant, port }) {
  const appAddress = /^\s*server (\d+\.\d+\.\d+\.\d+:\d+) max_fails=1/m.exec(serverConf)?.[1];
  if (!appAddress) throw new Error(`the door does not dial ${tenant}'s container address (no address in its server.conf): nothing to compare with`);
  const upstream = /^upstream (\S+) \{\n[^}]*\}/m.exec(serverConf);
  if (!upstream) throw new Error(`no upstream block in ${tenant}'s server.conf`);
  const directive = (name) => new RegExp(`^\\s*${name} [^;]*;`, 'm').exec(doorConf)?.[0].trim();
  const workers = /^worker_processes (\S+);/m.exec(doorConf)?.[1];
  if (!workers) throw new Error('no worker_processes in the door\'s nginx.conf');
  const conf = `worker_processes ${workers};
pid /tmp/bare-nginx.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  ${keptDirectives.map(directive).filter(Boolean).join('\n  ')}
  ssl_session_cache shared:bare_tls:20m;
  # The door's upstream for ${tenant}, as it renders it.
  ${upstream[0].replace(`upstream ${upstream[1]} `, 'upstream bare_app ').split('\n').join('\n  ')}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate /etc/bare/base.crt;
    ssl_certificate_key /etc/bare/base.key;
    location / {
      proxy_pass http://bare_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
    }
  }
}
`;
  return { conf, appAddress };
}
