// GET /api/ws with Upgrade: websocket: an echo that names the tenant. It proves that WebSocket
// upgrades pass through the front door (and its key check, being under /api/) to the tenant's own
// app. On connect the server sends {"customer","event":"connected"}; every text or binary message
// comes back as {"customer","echo":<the message as text>}; ping gets pong; close is answered.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppEnv } from './env.js';
import { acceptKey, decodeFrames, encodeFrame, opcodes } from './websocket-frames.js';

export const webSocketPath = '/api/ws';

const open = new WeakMap<http.Server, Set<Duplex>>();

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return encodeFrame(opcodes.close, payload);
}

export function acceptWebSockets(server: http.Server, config: AppEnv): void {
  const sockets = new Set<Duplex>();
  open.set(server, sockets);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== webSocketPath) return refuse(socket, '404 Not Found');
    const key = req.headers['sec-websocket-key'];
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
      return refuse(socket, '400 Bad Request');
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const send = (body: unknown) => socket.write(encodeFrame(opcodes.text, Buffer.from(JSON.stringify(body))));
    send({ customer: config.tenantId, event: 'connected' });

    let pending: Buffer = head;
    const receive = (chunk: Buffer) => {
      let decoded;
      try {
        decoded = decodeFrames(Buffer.concat([pending, chunk]));
      } catch {
        return socket.end(closeFrame(1009));
      }
      pending = decoded.rest;
      for (const frame of decoded.frames) {
        // Clients must mask (RFC 6455 5.1); fragmented messages are more than an echo needs.
        if (!frame.masked) return socket.end(closeFrame(1002));
        if (!frame.fin) return socket.end(closeFrame(1003));
        if (frame.opcode === opcodes.close) return socket.end(closeFrame(1000));
        if (frame.opcode === opcodes.ping) socket.write(encodeFrame(opcodes.pong, frame.payload));
        else if (frame.opcode === opcodes.text || frame.opcode === opcodes.binary) send({ customer: config.tenantId, echo: frame.payload.toString('utf8') });
      }
    };
    socket.on('data', receive);
    if (head.length > 0) receive(Buffer.alloc(0));
  });
}

/** At shutdown: upgraded sockets are not the HTTP server's any more, so they are closed here (1001: going away). */
export function closeWebSockets(server: http.Server): void {
  for (const socket of open.get(server) ?? []) socket.end(closeFrame(1001));
}
