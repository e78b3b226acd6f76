import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseImageOverrides, pinnedComposeFile } from '../../src/upgrades/upgrade.js';

describe('upgrade', () => {
  it('parses --image overrides and refuses anything else', () => {
    expect(parseImageOverrides(['app=tenantctl/app:2', 'redis=redis:7.2'])).toEqual({ app: 'tenantctl/app:2', redis: 'redis:7.2' });
    expect(parseImageOverrides(undefined)).toEqual({});
    for (const bad of ['worker=x', 'app', 'app=', 'app=a b']) expect(() => parseImageOverrides([bad])).toThrow(/--image/);
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
