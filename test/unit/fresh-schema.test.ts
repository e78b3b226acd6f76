import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitRoleSettings } from '../../src/tenants/fresh-schema.js';

describe('splitRoleSettings (the first migration on a fresh database)', () => {
  it("takes crm's ALTER ROLE tenant_app SET out of what runs as the owner, and nothing else", () => {
    const sql = readFileSync(path.resolve(import.meta.dirname, '..', '..', 'templates', 'crm', 'migrations', 'init-db.sql'), 'utf8');
    const { owner, superuser } = splitRoleSettings(sql);
    expect(superuser).toEqual(['ALTER ROLE tenant_app SET search_path = crm, public;']);
    expect(owner).not.toMatch(/ALTER ROLE tenant_app SET/);
    expect(owner.length).toBe(sql.length - superuser.join('').length);
  });

  it('leaves comments, other ALTER ROLE forms and statements inside lines alone', () => {
    const sql = '-- ALTER ROLE x SET a = b;\nALTER ROLE "App" SET work_mem = \'4MB\';\nALTER ROLE x PASSWORD NULL;\nSELECT 1; ALTER ROLE y SET a = b;\n';
    expect(splitRoleSettings(sql)).toEqual({ superuser: ['ALTER ROLE "App" SET work_mem = \'4MB\';'], owner: '-- ALTER ROLE x SET a = b;\n\nALTER ROLE x PASSWORD NULL;\nSELECT 1; ALTER ROLE y SET a = b;\n' });
  });
});
