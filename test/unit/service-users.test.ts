import { describe, expect, it } from 'vitest';
import { movedIds, movesProblem, parseAccounts, reownArgs, reversed, sameMoves } from '../../src/upgrades/service-users.js';

// Which owners an upgrade hands over when a service's new image runs its user as another number
// (src/upgrades/service-users.ts): the two images' accounts compared by name.

// `cat /etc/passwd /etc/group` of tenantctl/postgres before and after its user moved to 70001.
const before = [
  'root:x:0:0:root:/root:/bin/bash',
  'redis:x:100:102::/var/lib/redis:/usr/sbin/nologin',
  'postgres:x:101:103:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash',
  'root:x:0:',
  'redis:x:102:',
  'postgres:x:103:',
  'ssl-cert:x:104:postgres',
].join('\n');
const after = before
  .replace('postgres:x:101:103:', 'postgres:x:70001:70001:')
  .replace('postgres:x:103:', 'postgres:x:70001:');

describe('the users an image change moves', () => {
  it('reads passwd lines (seven fields) and group lines (four) from one text', () => {
    const { users, groups } = parseAccounts(`${before}\n# a comment\nbroken line\nodd:x:notanumber:1:::\n`);
    expect([...users]).toEqual([['root', 0], ['redis', 100], ['postgres', 101]]);
    expect([...groups]).toEqual([['root', 0], ['redis', 102], ['postgres', 103], ['ssl-cert', 104]]);
  });

  it('names the users and groups both images have under other numbers, and nothing else', () => {
    expect(movedIds(before, after)).toEqual({ users: [{ name: 'postgres', from: 101, to: 70001 }], groups: [{ name: 'postgres', from: 103, to: 70001 }] });
    expect(movedIds(before, before)).toEqual({ users: [], groups: [] });
    // A user only one image has is nobody's to move.
    expect(movedIds(before, `${after}\nwebdis:x:70004:70004::/nonexistent:/usr/sbin/nologin`).users).toHaveLength(1);
  });

  it('never moves root\'s files, nor gives any to root', () => {
    expect(movedIds('root:x:0:0::/:/bin/sh\nold:x:5:5::/:/bin/sh', 'root:x:7:0::/:/bin/sh\nold:x:0:5::/:/bin/sh').users).toEqual([]);
  });

  it('refuses moves one pass cannot make: a swap or chain merges owners', () => {
    const swap = { users: [{ name: 'a', from: 100, to: 101 }, { name: 'b', from: 101, to: 100 }], groups: [] };
    expect(movesProblem(swap)).toMatch(/uid 101 is both moved .* and given/);
    const chain = { users: [], groups: [{ name: 'a', from: 1, to: 2 }, { name: 'b', from: 2, to: 3 }] };
    expect(movesProblem(chain)).toMatch(/gid 2 is both moved/);
    expect(movesProblem(movedIds(before, after))).toBeUndefined();
  });

  it('turns the moves around for a rollback and into the helper\'s arguments, numbers only', () => {
    const moves = movedIds(before, after);
    expect(reownArgs(moves)).toEqual(['u', '101', '70001', 'g', '103', '70001']);
    expect(reownArgs(reversed(moves))).toEqual(['u', '70001', '101', 'g', '70001', '103']);
    expect(() => reownArgs({ users: [{ name: 'x', from: -1, to: 5 }], groups: [] })).toThrow(/not a uid/);
    expect(sameMoves(moves, movedIds(before, after))).toBe(true);
    expect(sameMoves(moves, reversed(moves))).toBe(false);
  });
});
