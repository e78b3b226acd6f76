// WebSocket frames (RFC 6455 section 5), just enough for the app's echo endpoint and for tests that
// talk to it: whole (FIN) frames, payloads up to maxPayload, masking both ways. No dependency: Node 18
// has no WebSocket server and the app installs nothing.
import { createHash } from 'node:crypto';

export const opcodes = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
export const maxPayload = 64 * 1024;

export interface Frame { fin: boolean; opcode: number; masked: boolean; payload: Buffer }

/** The Sec-WebSocket-Accept answer to a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** One frame; `mask` (4 bytes) is what a client must send, a server sends none. */
export function encodeFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = 0x80 | opcode;
  header[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, payload]);
  mask.copy(header, 2 + lengthBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, body]);
}

/**
 * The complete frames at the start of `buffer` and the bytes after them (a frame not yet complete).
 * Throws on a frame larger than maxPayload.
 */
export function decodeFrames(buffer: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  for (;;) {
    if (buffer.length - at < 2) break;
    const first = buffer[at]!, second = buffer[at + 1]!;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length < offset + 2) break;
      length = buffer.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (buffer.length < offset + 8) break;
      const big = buffer.readBigUInt64BE(offset);
      if (big > BigInt(maxPayload)) throw new Error('frame too large');
      length = Number(big);
      offset += 8;
    }
    if (length > maxPayload) throw new Error('frame too large');
    const maskBytes = masked ? 4 : 0;
    if (buffer.length < offset + maskBytes + length) break;
    const payload = Buffer.from(buffer.subarray(offset + maskBytes, offset + maskBytes + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[offset + (i % 4)]!;
    frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, masked, payload });
    at = offset + maskBytes + length;
  }
  return { frames, rest: buffer.subarray(at) };
}
