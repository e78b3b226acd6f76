import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A role's password as PostgreSQL stores it (SCRAM-SHA-256, RFC 5802/7677), computed here so that
 * `ALTER ROLE ... PASSWORD '<verifier>'` never carries the password itself: not on the wire, not in
 * the server's statement log, not in pg_stat_activity.
 */
export function scramSha256Verifier(password: string, iterations = 4096, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
