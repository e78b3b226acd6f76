// humanBytes, shared by stats (12.5MiB, as Docker shows memory) and quota (12.5 MiB).
import { describe, expect, it } from 'vitest';
import { humanBytes } from '../../src/common/human-bytes.js';
import { formatSize } from '../../src/quota/size.js';

describe('humanBytes', () => {
  it('uses binary units with one decimal, and quota puts a space before the unit', () => {
    expect(humanBytes(512)).toBe('512B');
    expect(humanBytes(1536)).toBe('1.5KiB');
    expect(humanBytes(12.5 * 2 ** 20)).toBe('12.5MiB');
    expect(humanBytes(3 * 2 ** 50)).toBe('3072.0TiB');
    expect(formatSize(1.5 * 2 ** 30)).toBe('1.5 GiB');
  });
});
