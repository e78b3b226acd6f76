import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

// A PostgreSQL SCRAM-SHA-256 password verifier, computed here (as psql's \password and libpq's
// PQencryptPasswordConn do): ALTER ROLE ... PASSWORD '<verifier>' stores it as it is, so the
// password itself never reaches the server, and a failing statement the server logs shows at most
// the verifier. RFC 5802 / RFC 7677; PostgreSQL's defaults (16-byte salt, 4096 iterations).
// tenantctl's secrets are ASCII letters, digits, "-" and "_": SASLprep leaves them as they are.

export function scramSha256Verifier(password: string, { salt = randomBytes(16), iterations = 4096 }: { salt?: Buffer; iterations?: number } = {}): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
