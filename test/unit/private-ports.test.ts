import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { publishedPortOf, unpublishPrivatePorts } from '../../src/templates/private-ports.js';

// What a remote host or a swarm publishes of a tenant: the front door's port, nothing else.
const block = {
  ports: {
    app: { service: 'app', container: 3000, range: { from: 3001, to: 3999 } },
    db: { service: 'db', container: 5432, range: { from: 5434, to: 5999 } },
    redis: { service: 'redis', container: 6379, range: { from: 6380, to: 6999 } },
  },
  frontdoor: { port: 'app', publicPaths: [] },
};
const ports = { app: 3005, db: 5440, redis: 6390 };

const compose = `# a comment that stays
services:
  app:
    image: a
    ports:
      - "0.0.0.0:3005:3000"
  db:
    image: p
    ports:
      - "0.0.0.0:5440:5432"
      - "0.0.0.0:9187:9187"
  redis:
    image: r
    ports:
      - { target: 6379, published: 6390 }
`;

describe('unpublishPrivatePorts', () => {
  it('removes the database and Redis ports, keeps the front door port and ports that are not the tenant\'s', () => {
    const out = unpublishPrivatePorts(compose, block, ports);
    const tree = parse(out);
    expect(tree.services.app.ports).toEqual(['0.0.0.0:3005:3000']);
    expect(tree.services.db.ports).toEqual(['0.0.0.0:9187:9187']);
    expect(tree.services.redis.ports).toBeUndefined();
    expect(out).toContain('# a comment that stays');
  });

  it('without a front door port every declared port goes; without private ports the text is unchanged', () => {
    const tree = parse(unpublishPrivatePorts(compose, { ports: block.ports }, ports));
    expect(tree.services.app.ports).toBeUndefined();
    expect(unpublishPrivatePorts(compose, { ...block, ports: { app: block.ports.app } }, ports)).toBe(compose);
  });

  it('the shipped crm template: only the app port is left on a remote host', () => {
    const text = readFileSync('templates/crm/docker-compose.tenant.yml', 'utf8').replace(/\{\{bind_address\}\}/g, '0.0.0.0')
      .replace('{{port.app}}', '3005').replace('{{port.db}}', '5440').replace('{{port.redis}}', '6390');
    const tree = parse(unpublishPrivatePorts(text, block, ports), { merge: true, maxAliasCount: -1 });
    const published = Object.entries(tree.services as Record<string, { ports?: string[] }>).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
    expect(published).toEqual(['app 0.0.0.0:3005:3000']);
  });

  it('fails closed (exit 2, naming the service) on a private port published through a YAML alias or a merge key', () => {
    const aliased = `x-ports: &dbports
  - "0.0.0.0:5440:5432"
services:
  app:
    image: a
    ports: ["0.0.0.0:3005:3000"]
  db:
    image: p
    ports: *dbports
`;
    expect(() => unpublishPrivatePorts(aliased, block, ports)).toThrow(/service db still publishes private port 5440/);
    const merged = `x-defaults: &defaults
  ports:
    - "0.0.0.0:6390:6379"
services:
  app:
    image: a
    ports: ["0.0.0.0:3005:3000"]
  redis:
    <<: *defaults
    image: r
`;
    expect(() => unpublishPrivatePorts(merged, block, ports)).toThrow(/service redis still publishes private port 6390/);
    // Under another service's name, or as a range: refused too.
    const elsewhere = `services:
  app:
    image: a
    ports: ["0.0.0.0:3005:3000", "0.0.0.0:5438-5442:7000-7004"]
`;
    expect(() => unpublishPrivatePorts(elsewhere, block, ports)).toThrow(/service app still publishes private port 5440/);
    expect(() => unpublishPrivatePorts(`services:\n  db:\n    image: p\n    network_mode: host\n`, block, ports)).toThrow(/network_mode: host/);
  });

  it('reads the published port of the short and long forms', () => {
    expect(publishedPortOf('127.0.0.1:5440:5432')).toBe(5440);
    expect(publishedPortOf('5440:5432/tcp')).toBe(5440);
    expect(publishedPortOf('[::1]:5440:5432')).toBe(5440);
    expect(publishedPortOf({ target: 5432, published: 5440 })).toBe(5440);
    expect(publishedPortOf('5432')).toBeUndefined();
  });
});
