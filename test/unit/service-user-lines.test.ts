import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// README, "Service users": the shipped templates' `user:` lines and the numbers the images' builds
// give their service users cannot drift. Each image's Dockerfile asserts (or creates) its user's
// numbers; each template service's user: line must be exactly those of the image it runs.

const root = path.resolve(import.meta.dirname, '../..');
/** The Dockerfile behind each image placeholder the shipped templates use. */
const dockerfileOf: Record<string, string> = {
  image_postgres: 'images/postgres/Dockerfile',
  image_redis: 'images/redis/Dockerfile',
  image_app: 'Dockerfile.multitenant',
  image_frontend: 'images/frontbase-frontend/Dockerfile',
  image_backend: 'images/frontbase-backend/Dockerfile',
  image_edge: 'images/frontbase-edge/Dockerfile',
  image_redis_http: 'images/webdis/Dockerfile',
};

/** "uid:gid" a Dockerfile gives its service user: its build's `test "$(id -u X):$(id -g X)" = U:G`, else its useradd/groupadd numbers. */
function numbersOf(file: string): string {
  const text = readFileSync(path.join(root, file), 'utf8');
  const asserted = /test "\$\(id -u [\w-]+\):\$\(id -g [\w-]+\)" = (\d+:\d+)/.exec(text);
  if (asserted) return asserted[1]!;
  const uid = /useradd [^\n]*--uid (\d+)/.exec(text)?.[1];
  const gid = /groupadd [^\n]*--gid (\d+)/.exec(text)?.[1];
  if (!uid || !gid) throw new Error(`${file} names no service user's numbers`);
  return `${uid}:${gid}`;
}

describe('service users', () => {
  for (const template of ['crm', 'frontbase']) {
    it(`${template}: every service's user: line is its image's user`, () => {
      const tree = parse(readFileSync(path.join(root, 'templates', template, 'docker-compose.tenant.yml'), 'utf8'), { merge: true, maxAliasCount: -1 }) as { services: Record<string, { image: string; user?: string }> };
      const pairs = Object.entries(tree.services).map(([service, d]) => {
        const placeholder = /^\{\{(\w+)\}\}$/.exec(d.image)?.[1] ?? '';
        expect(dockerfileOf[placeholder], `${template} ${service}: image ${d.image}`).toBeDefined();
        return [service, d.user, numbersOf(dockerfileOf[placeholder]!)];
      });
      expect(pairs.length).toBeGreaterThan(0);
      for (const [service, line, image] of pairs) expect(line, `${template} ${service}`).toBe(image);
    });
  }
});
