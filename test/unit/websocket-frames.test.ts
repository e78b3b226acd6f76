import { describe, expect, it } from 'vitest';
import { acceptKey, decodeFrames, encodeFrame, opcodes } from '../../apps/tenant-app/websocket-frames.js';

describe('WebSocket frames', () => {
  it('answers the RFC 6455 example key', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('round-trips masked and unmasked frames of each length form, across chunk boundaries', () => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const payloads = [Buffer.from('hi'), Buffer.alloc(200, 'a'), Buffer.alloc(60_000, "b")];
    const wire = Buffer.concat([...payloads.map((p) => encodeFrame(opcodes.text, p, mask)), encodeFrame(opcodes.binary, Buffer.from('x'))]);
    // The masked bytes on the wire are not the payload.
    expect(wire.subarray(6, 8).toString()).not.toBe('hi');
    const frames = [];
    let pending: Buffer = Buffer.alloc(0);
    for (let at = 0; at < wire.length; at += 999) {
      const decoded = decodeFrames(Buffer.concat([pending, wire.subarray(at, at + 999)]));
      frames.push(...decoded.frames);
      pending = decoded.rest;
    }
    expect(pending.length).toBe(0);
    expect(frames.map((f) => [f.opcode, f.masked, f.fin, f.payload.length])).toEqual([[1, true, true, 2], [1, true, true, 200], [1, true, true, 60_000], [2, false, true, 1]]);
    expect(frames[0]!.payload.toString()).toBe('hi');
    expect(frames[2]!.payload.equals(payloads[2]!)).toBe(true);
  });

  it('refuses a frame larger than it accepts', () => {
    const header = Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0, 2, 0, 0]); // 128 KiB
    expect(() => decodeFrames(header)).toThrow(/too large/);
  });
});
