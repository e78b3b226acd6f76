// A rendered compose file as a swarm stack (src/swarm/swarm-render.ts): what is translated, what
// is refused (with the reason), and that the crm template's own rendering goes through.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { swarmRender, SwarmRenderError } from '../../src/swarm/swarm-render.js';

const compose = `
services:
  db:
    image: tenantctl/postgres:15
    restart: unless-stopped
    secrets: [DB_PASSWORD]
    tmpfs: ["/run/tenantctl:mode=0700,size=64k"]
    volumes: [db-data:/var/lib/postgresql/data, ./initdb:/docker-entrypoint-initdb.d:ro]
    ports: ["127.0.0.1:5439:5432"]
    mem_limit: 512m
    cpus: "0.5"
    labels: { tenantctl.tenant: acme }
    networks: [tenant]
  app:
    image: tenantctl/app:latest
    depends_on: { db: { condition: service_started } }
    ports: ["3005:3000"]
    networks: [tenant]
networks:
  tenant:
    driver: bridge
    ipam: { config: [{ subnet: 10.123.4.0/24 }] }
    labels: { tenantctl.tenant: acme }
volumes:
  db-data: { labels: { tenantctl.tenant: acme } }
secrets:
  DB_PASSWORD: { file: ./secrets/DB_PASSWORD }
`;
const render = (text = compose) => swarmRender({ rendered: text, directories: { './initdb': ['01-role.sh', '02 more.sql'] }, node: 'node-2' });
const refusal = (text: string) => {
  try {
    render(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SwarmRenderError);
    return (error as SwarmRenderError).reasons;
  }
  throw new Error('not refused');
};

describe('swarmRender', () => {
  const { text, notes } = render();
  const stack = parse(text);
  const db = stack.services.db;

  it('moves mem_limit/cpus into deploy.resources and restart into a restart policy', () => {
    expect(db.mem_limit).toBeUndefined();
    expect(db.cpus).toBeUndefined();
    expect(db.restart).toBeUndefined();
    expect(db.deploy.resources).toEqual({ limits: { memory: '512m', cpus: '0.5' } });
    expect(db.deploy.restart_policy).toEqual({ condition: 'any' });
  });

  it('pins every service to the node, with DNS round robin, and publishes ports on that node', () => {
    for (const service of Object.values<any>(stack.services)) {
      expect(service.deploy.placement).toEqual({ constraints: ['node.hostname == node-2'] });
      expect(service.deploy.endpoint_mode).toBe('dnsrr');
    }
    expect(db.ports).toEqual([{ target: 5432, published: 5439, protocol: 'tcp', mode: 'host' }]);
    expect(stack.services.app.ports).toEqual([{ target: 3000, published: 3005, protocol: 'tcp', mode: 'host' }]);
  });

  it('turns the bind-mounted initdb into swarm configs, file secrets into swarm secrets readable by root only', () => {
    expect(db.configs).toEqual([
      { source: 'initdb-01-role-sh', target: '/docker-entrypoint-initdb.d/01-role.sh', mode: 0o555 },
      { source: 'initdb-02-more-sql', target: '/docker-entrypoint-initdb.d/02 more.sql', mode: 0o555 },
    ]);
    expect(stack.configs['initdb-01-role-sh']).toEqual({ file: 'initdb/01-role.sh', labels: { 'tenantctl.tenant': 'acme' } });
    expect(db.secrets).toEqual([{ source: 'DB_PASSWORD', target: 'DB_PASSWORD', mode: 0o400 }]);
    expect(stack.secrets.DB_PASSWORD).toEqual({ file: './secrets/DB_PASSWORD', labels: { 'tenantctl.tenant': 'acme' } });
    expect(db.volumes).toEqual([{ type: 'tmpfs', target: '/run/tenantctl', tmpfs: { size: 65536 } }, 'db-data:/var/lib/postgresql/data']);
  });

  it('makes the tenant network an overlay, keeps its subnet, drops depends_on with a note', () => {
    expect(stack.networks.tenant).toMatchObject({ driver: 'overlay', ipam: { config: [{ subnet: '10.123.4.0/24' }] } });
    expect(stack.services.app.depends_on).toBeUndefined();
    expect(notes.join('\n')).toMatch(/app: depends_on dropped/);
    expect(stack.version).toBe('3.9');
  });

  it('refuses what a stack cannot express, naming each reason', () => {
    expect(refusal(compose.replace('image: tenantctl/app:latest', 'image: tenantctl/app:latest\n    build: .\n    container_name: x'))).toEqual([
      'service app: build: swarm does not build images: build and load them on the nodes first (tenantctl copies local images)',
      'service app: container_name: swarm names each task itself',
    ]);
    expect(refusal(compose.replace('condition: service_started', 'condition: service_healthy'))[0]).toMatch(/depends_on db \(service_healthy\): swarm starts services in no order/);
    expect(refusal(compose.replace('    networks: [tenant]\n  app', '    profiles: [debug]\n    networks: [tenant]\n  app'))[0]).toMatch(/profiles/);
    expect(refusal(compose.replace('DB_PASSWORD: { file: ./secrets/DB_PASSWORD }', 'DB_PASSWORD: { external: true }'))).toEqual(['secret DB_PASSWORD: only file secrets are turned into swarm secrets']);
    expect(refusal(compose.replace('./initdb:', './other:'))[0]).toMatch(/\.\/other is bind-mounted from this machine/);
    // One task per service: stop and start scale to 0 and back to 1.
    expect(refusal(compose.replace('    ports: ["3005:3000"]', '    ports: ["3005:3000"]\n    deploy: { replicas: 3 }'))).toEqual([expect.stringMatching(/^service app: deploy.replicas 3: a tenant's services run one task each/)]);
    expect(refusal(compose.replace('    ports: ["3005:3000"]', '    ports: ["3005:3000"]\n    deploy: { mode: global }'))).toEqual([expect.stringMatching(/^service app: deploy.mode global/)]);
    expect(() => render(compose.replace('    ports: ["3005:3000"]', '    ports: ["3005:3000"]\n    deploy: { replicas: 1, mode: replicated }'))).not.toThrow();
  });

  it('labels each container with its compose project and service, so readiness finds it on the node', () => {
    const labelled = parse(swarmRender({ rendered: compose, directories: { './initdb': [] }, node: 'n', project: 'tct-acme' }).text);
    expect(labelled.services.db.labels).toEqual({ 'tenantctl.tenant': 'acme', 'com.docker.compose.project': 'tct-acme', 'com.docker.compose.service': 'db' });
    expect(labelled.services.db.deploy.labels).toEqual({ 'tenantctl.tenant': 'acme' });
  });

  it('keeps yes/no strings quoted (the docker CLI reads YAML 1.1)', () => {
    const out = render(compose.replace('image: tenantctl/app:latest', 'image: tenantctl/app:latest\n    command: [redis-server, --appendonly, "yes"]')).text;
    expect(out).toMatch(/- "yes"/);
  });

  it('translates the crm template as rendered (every key it uses is known)', () => {
    const template = readFileSync(path.resolve(import.meta.dirname, '../../templates/crm/docker-compose.tenant.yml'), 'utf8');
    // Placeholders filled with plausible values; the x-tenantctl block is tenantctl's, not compose's.
    const filled = template.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (_m, name: string) => (name.startsWith('port.') ? '5000' : name.includes('memory') || name === 'redis_maxmemory' ? '256m' : name.includes('cpus') ? '0.5' : name === 'subnet' ? '10.1.0.0/24' : name === 'health_interval' ? '30s' : name === 'bind_address' ? '127.0.0.1' : name === 'pids_limit' ? '512' : 'x'));
    const tree = parse(filled, { merge: true });
    delete tree['x-tenantctl'];
    const { text: crm, notes } = swarmRender({ rendered: JSON.stringify(tree), directories: { './initdb': ['01-create-app-role.sh'] }, node: 'n1' });
    expect(Object.keys(parse(crm).services).sort()).toEqual(['app', 'db', 'redis', 'worker']);
    // Its hardening, as far as a service spec can hold it; no-new-privileges is left to the nodes.
    const db = parse(crm).services.db;
    // With secrets, it starts as root on a swarm (a service's tmpfs cannot be given to its uid).
    expect(db).toMatchObject({ cap_drop: ['ALL'], cap_add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'], read_only: true, deploy: { resources: { limits: { pids: 512 } } } });
    expect(db.user).toBeUndefined();
    expect(db.security_opt).toBeUndefined();
    expect(notes.join('\n')).toMatch(/db: security_opt no-new-privileges dropped/);
    expect(refusal(compose.replace('    networks: [tenant]\n  app', '    security_opt: ["seccomp:unconfined"]\n    networks: [tenant]\n  app'))[0]).toMatch(/security_opt: swarm services take no security options/);
  });
});
