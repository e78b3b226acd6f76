import { createHash, randomBytes } from 'node:crypto';
import { link, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TenantctlError } from '../common/errors.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import type { AdminDb } from '../admin-db/database.js';
import { CipherError, keyLength, open, seal } from './cipher.js';

// The master key seals secrets stored in the admin database and never goes there itself. It comes
// from TENANTCTL_MASTER_KEY, or else from a key file (<stateDir>/master.key, or
// TENANTCTL_MASTER_KEY_FILE) that is created on first use. A known value sealed under the key in
// admin_settings tells a wrong key apart before it seals or opens anything else.

const checkSetting = 'master_key_check';
const checkPurpose = 'master-key-check';
const checkPlaintext = 'tenantctl master key check';

const keyFormat = `${keyLength} bytes written as 64 hex characters or as base64/base64url (e.g. the output of: openssl rand -hex 32)`;

/**
 * Reads a master key written as hex or base64/base64url. The value is never part of an error
 * message: a near-miss may be most of the real key.
 */
export function parseMasterKey(raw: string, source = 'TENANTCTL_MASTER_KEY'): Buffer {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (key.length === keyLength) return key;
  }
  throw new TenantctlError('usage', `${source} must be ${keyFormat}`);
}

export function masterKeyFile(env: NodeJS.ProcessEnv, stateDir: string): string {
  return env.TENANTCTL_MASTER_KEY_FILE ? path.resolve(env.TENANTCTL_MASTER_KEY_FILE) : path.join(stateDir, 'master.key');
}

/** A short, one-way name for a key (for audit rows and diagnostics); reveals nothing about it. */
export function fingerprintOf(key: Buffer): string {
  return createHash('sha256').update('tenantctl master key fingerprint\0').update(key).digest('hex').slice(0, 16);
}

export interface SecretBox {
  /** Seals plaintext for one purpose, e.g. `tenant-secrets:acme`; only that purpose opens it. */
  seal(plaintext: string, purpose: string): string;
  /** Opens a value sealed for `purpose`, or throws a TenantctlError: never returns garbage. */
  open(sealed: string, purpose: string): string;
  fingerprint: string;
}

export interface OpenSecretBoxOptions {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  /**
   * Whether a key file may be generated when there is no key at all and the admin database has
   * never had one. Read-only commands pass false, so that looking does not pick the key by accident.
   */
  create?: boolean;
}

/**
 * Resolves the master key and checks it against the admin database (setting the check up on first
 * use). Concurrent first uses agree: the key file is created exclusively and the check row with
 * ON CONFLICT DO NOTHING, and each process then uses whatever won.
 */
export async function openSecretBox(db: Pick<AdminDb, 'pool'>, options: OpenSecretBoxOptions): Promise<SecretBox> {
  const file = masterKeyFile(options.env, options.stateDir);
  let check = await readCheck(db);
  const fromEnv = options.env.TENANTCTL_MASTER_KEY;
  const source = fromEnv ? 'TENANTCTL_MASTER_KEY' : file;

  let key = fromEnv ? parseMasterKey(fromEnv) : await readKeyFile(file);
  if (!key) {
    if (check !== undefined) {
      throw new TenantctlError('usage', `master key missing: this admin database's secrets are sealed with a master key, and neither TENANTCTL_MASTER_KEY nor ${file} is set; set TENANTCTL_MASTER_KEY to that key (or restore ${file})`);
    }
    if (options.create === false) {
      throw new TenantctlError('usage', `master key missing: set TENANTCTL_MASTER_KEY, or run a command that stores secrets (provision) to create ${file}`);
    }
    key = await createKeyFile(file);
  }

  if (check === undefined) {
    await db.pool
      .query('INSERT INTO admin_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [checkSetting, seal(key, checkPlaintext, checkPurpose)])
      .catch(unreachable);
    check = await readCheck(db); // another process may have set it up with its key first
    if (check === undefined) throw new TenantctlError('adminDb', `admin_settings.${checkSetting} vanished right after it was written`);
  }
  verify(key, check, source, file);

  const sealingKey = key; // held in this closure only, so printing or serialising the box shows no key
  return {
    fingerprint: fingerprintOf(sealingKey),
    seal: (plaintext, purpose) => seal(sealingKey, plaintext, purpose),
    open(sealed, purpose) {
      try {
        return open(sealingKey, sealed, purpose);
      } catch (error) {
        if (!(error instanceof CipherError)) throw error;
        // The key passed the check, so the stored value itself is wrong: altered, truncated, or copied from elsewhere.
        throw new TenantctlError('adminDb', `the sealed ${purpose} in the admin database cannot be opened (${error.reason}): it was altered or copied from another record`, { cause: error });
      }
    },
  };
}

/**
 * Checks the master key (TENANTCTL_MASTER_KEY or its file) against a check value read elsewhere than
 * the admin database, e.g. from a dump before it is committed (recover). Throws as openSecretBox does.
 */
export async function verifyMasterKeyCheck(options: { env: NodeJS.ProcessEnv; stateDir: string }, check: string): Promise<void> {
  const file = masterKeyFile(options.env, options.stateDir);
  const fromEnv = options.env.TENANTCTL_MASTER_KEY;
  const key = fromEnv ? parseMasterKey(fromEnv) : await readKeyFile(file);
  if (!key) throw new TenantctlError('usage', `master key missing: set TENANTCTL_MASTER_KEY to the key this admin database was set up with (or restore ${file})`);
  verify(key, check, fromEnv ? 'TENANTCTL_MASTER_KEY' : file, file);
}

function verify(key: Buffer, check: string, source: string, file: string): void {
  let plaintext: string | undefined;
  try {
    plaintext = open(key, check, checkPurpose);
  } catch (error) {
    if (!(error instanceof CipherError)) throw error;
    if (error.reason === 'malformed') throw new TenantctlError('adminDb', `admin_settings.${checkSetting} is not a sealed value; it was altered`, { cause: error });
  }
  if (plaintext !== checkPlaintext) {
    throw new TenantctlError(
      'usage',
      `the master key (from ${source}) does not match the one this admin database was set up with; set TENANTCTL_MASTER_KEY to that key (or restore ${file})`,
    );
  }
}

async function readCheck(db: Pick<AdminDb, 'pool'>): Promise<string | undefined> {
  const { rows } = await db.pool.query('SELECT value FROM admin_settings WHERE key = $1', [checkSetting]).catch(unreachable);
  return rows[0]?.value;
}

async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TenantctlError('usage', `cannot read the master key file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseMasterKey(text, `the master key file ${file}`);
}

/**
 * Writes a new random key, unless another process got there first: then theirs is the key. The key
 * is written to a private temporary file and hard-linked into place, which is exclusive like `wx`
 * but never lets another process read a half-written file.
 */
async function createKeyFile(file: string): Promise<Buffer> {
  await ensurePrivateDir(path.dirname(file));
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writePrivateFile(temporary, `${randomBytes(keyLength).toString('hex')}\n`, { exclusive: true });
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new TenantctlError('usage', `cannot create the master key file ${file}: ${(error as Error).message}`, { cause: error });
    }
  } finally {
    await rm(temporary, { force: true });
  }
  const key = await readKeyFile(file);
  if (!key) throw new TenantctlError('usage', `the master key file ${file} disappeared right after it was created`);
  return key;
}

function unreachable(error: unknown): never {
  // admin_settings comes with migration 003; every AdminDb.open applies it before this runs.
  throw new TenantctlError('adminDb', `admin database query failed: ${(error as Error).message}`, { cause: error });
}
