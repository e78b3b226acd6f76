import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageKeysOf, parseImageOverrides } from '../../src/upgrades/upgrade.js';
import { pinnedComposeFile } from '../../src/upgrades/site.js';

describe('upgrade', () => {
  it('parses --image overrides and refuses anything else', () => {
    expect(parseImageOverrides(['app=tenantctl/app:2', 'redis=redis:7.2'])).toEqual({ app: 'tenantctl/app:2', redis: 'redis:7.2' });
    expect(parseImageOverrides(undefined)).toEqual({});
    // Any key parses (a template's own image variables); which keys a tenant's template has is checked per tenant.
    expect(parseImageOverrides(['frontend=tenantctl/frontbase-frontend:2'])).toEqual({ frontend: 'tenantctl/frontbase-frontend:2' });
    for (const bad of ['app', 'app=', 'app=a b', 'App=x', '=x', 'app=x;rm', 'app=-x']) expect(() => parseImageOverrides([bad])).toThrow(/--image/);
    expect(() => parseImageOverrides(['app=a', 'app=b'])).toThrow(/--image app is given twice/);
  });

  it("names a template's image keys: the configured images its file uses, and its own image_ variables", () => {
    const crm = { name: 'crm', text: 'image: "{{image_postgres}}"\nimage: "{{ image_app }}"\nimage: "{{image_redis}}"', block: { variables: {} } } as never;
    expect(imageKeysOf(crm, ['app', 'postgres', 'redis'])).toEqual(['app', 'postgres', 'redis']);
    const frontbase = { name: 'frontbase', text: 'image: "{{image_frontend}}"\nimage: "{{image_redis}}"', block: { variables: { image_frontend: { default: 'f' }, region: { default: 'eu' } } } } as never;
    expect(imageKeysOf(frontbase, ['app', 'postgres', 'redis'])).toEqual(['frontend', 'redis']);
  });

  it('pins every service of the last good compose file to its per-tenant rollback tag, leaving the rest as it was', () => {
    const file = `x-labels: &labels\n  tenantctl.managed: "true"\nservices:\n  app:\n    image: "tenantctl/app:latest"\n    labels: *labels\n  db:\n    image: "tenantctl/postgres:15"\n    labels: *labels\nvolumes:\n  db-data: {}\n`;
    const pinned = parse(pinnedComposeFile(file, 'tenant-acme', {
      app: { tag: 'tenantctl/app:latest', id: 'sha256:aaa' },
      db: { tag: 'tenantctl/postgres:15', id: 'sha256:bbb' },
    }), { merge: true });
    expect(pinned.services.app.image).toBe('tenantctl-rollback:tenant-acme-app');
    expect(pinned.services.db.image).toBe('tenantctl-rollback:tenant-acme-db');
    expect(pinned.services.app.labels).toEqual({ 'tenantctl.managed': 'true' });
    expect(pinned.volumes).toEqual({ 'db-data': {} });
  });
});
