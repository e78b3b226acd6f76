import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { scramSha256Verifier } from '../../src/secrets/scram.js';

// The verifier is checked the way a PostgreSQL server uses it: node-postgres's own SCRAM client
// (what tenantctl's probes log in with) answers a server-first message made from the verifier's
// salt, and its proof must check out against StoredKey, its expected server signature against ServerKey.
const sasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js');

async function clientAgainst(verifier: string, password: string): Promise<{ proofOk: boolean; serverSignatureOk: boolean }> {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier)!;
  const [, iterations, salt, storedKey, serverKey] = match;
  const session = sasl.startSession(['SCRAM-SHA-256']);
  const nonce = `${session.clientNonce}server-part`;
  const serverFirst = `r=${nonce},s=${salt},i=${iterations}`;
  await sasl.continueSession(session, password, serverFirst);
  const clientFinalWithoutProof = session.response.replace(/,p=[^,]+$/, '');
  const proof = Buffer.from(/,p=([^,]+)$/.exec(session.response)![1]!, 'base64');
  const authMessage = `n=*,r=${session.clientNonce},${serverFirst},${clientFinalWithoutProof}`;
  const signature = createHmac('sha256', Buffer.from(storedKey!, 'base64')).update(authMessage).digest();
  const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
  const proofOk = createHash('sha256').update(clientKey).digest('base64') === storedKey;
  const serverSignatureOk = createHmac('sha256', Buffer.from(serverKey!, 'base64')).update(authMessage).digest('base64') === session.serverSignature;
  return { proofOk, serverSignatureOk };
}

describe('SCRAM-SHA-256 verifier (ALTER ROLE never sees the password)', () => {
  it('has PostgreSQL\'s form: 4096 iterations, a 16-byte salt, StoredKey and ServerKey', () => {
    const verifier = scramSha256Verifier('n0tAPassw0rd0fAnyone1234');
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(verifier).not.toContain('n0tAPassw0rd0fAnyone1234');
    expect(scramSha256Verifier('n0tAPassw0rd0fAnyone1234')).not.toBe(verifier); // a new salt each time
  });

  it('lets the password log in, and only that password', async () => {
    const verifier = scramSha256Verifier('Q7pR2mX9vK4tL8wZ3nB6cF1hJ5sD0gYa');
    expect(await clientAgainst(verifier, 'Q7pR2mX9vK4tL8wZ3nB6cF1hJ5sD0gYa')).toEqual({ proofOk: true, serverSignatureOk: true });
    expect(await clientAgainst(verifier, 'Q7pR2mX9vK4tL8wZ3nB6cF1hJ5sD0gYb')).toEqual({ proofOk: false, serverSignatureOk: false });
  });
});
