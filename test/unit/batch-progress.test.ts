import { describe, expect, it } from 'vitest';
import { BatchProgress } from '../../src/cli/batch-progress.js';

/** A stand-in for process.stderr that records what was written. */
const fakeStream = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 80, write: (text: string) => (writes.push(text), true) } as unknown as NodeJS.WriteStream };
};

describe('BatchProgress', () => {
  it('writes plain "id: step" lines when not on a terminal', () => {
    const { writes, stream } = fakeStream(false);
    const progress = new BatchProgress(stream);
    const acme = progress.reporterFor('acme');
    acme.step('reserving ports and subnet');
    acme.done('active http://127.0.0.1:3001');
    progress.stop();
    expect(writes[0]).toBe('acme: reserving ports and subnet\n');
    expect(writes[1]).toMatch(/^acme: active http:\/\/127\.0\.0\.1:3001 \(\d+\.\ds\)\n$/);
    expect(writes.join('')).not.toContain('\x1b[');
  });

  it('redraws one line per tenant in place on a terminal', () => {
    const { writes, stream } = fakeStream(true);
    const progress = new BatchProgress(stream);
    progress.reporterFor('acme').step('waiting until every service is healthy');
    progress.reporterFor('globex').done('failed: app port: port 8080 is already in use on this host');
    progress.stop(); // draws once more
    progress.stop(); // and again: the second frame moves the cursor up over the first
    const frames = writes.join('');
    expect(frames).toMatch(/acme\s+.*waiting until every service is healthy/);
    expect(frames).toMatch(/globex\s+.*failed: app port/);
    expect(frames).toContain('\x1b[2A'); // up two lines: one per tenant
    expect(frames.split('\n').every((line) => line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').length <= 80)).toBe(true);
  });

  it('prints nothing when quiet', () => {
    const { writes, stream } = fakeStream(false);
    const progress = new BatchProgress(stream, true);
    progress.reporterFor('acme').step('rendering');
    progress.stop();
    expect(writes).toEqual([]);
  });
});
