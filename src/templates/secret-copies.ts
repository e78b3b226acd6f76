import path from 'node:path';
import { parse, parseDocument } from 'yaml';
import { isRecord } from './render-compose.js';

// Pure: each service's own copy of the secrets it reads, so it can start as its non-root user.
// Outside swarm, compose (v1 and v2) bind-mounts a `secrets: file:` secret as the host file itself,
// with its owner and mode (the uid, gid and mode a service asks for are ignored), so a service that
// starts as uid 101 cannot read the operator's 0600 file. A service that says who it runs as with a
// numeric `user: "<uid>[:<gid>]"` (not root) therefore gets, in the rendered file, its own copies:
// top-level secrets `<NAME>.user-<uid>-<gid>` with file ./secrets/user-<uid>-<gid>/<NAME>, mounted at
// the same place (/run/secrets/<NAME>). tenantctl writes those files, owned by that uid and mode
// 0400, beside the operator's own (secrets/env-file.ts, writeSecretFiles), whenever it writes the
// secrets: two services that run as different users never read the same file, and inside a
// container no other uid can read its copy. A service without a numeric user (an operator's template
// that starts as root and drops itself) keeps the operator's file, as before. A swarm stack gets no
// copies: there a service with secrets starts as root and drops (swarm/swarm-render.ts).

/** A copy of one secret for one container user: what tenantctl writes and with which owner. */
export interface SecretCopy {
  /** The declared secret (DB_PASSWORD). */
  name: string;
  uid: number;
  gid: number;
  /** Its folder under the tenant's secrets/: user-<uid>-<gid>. */
  dir: string;
}

/** The numeric, non-root uid and gid a service starts as, when its `user:` says so (gid: the uid's when not given). */
export function numericUser(user: unknown): { uid: number; gid: number } | undefined {
  const match = /^(\d+)(?::(\d+))?$/.exec(typeof user === 'number' ? String(user) : typeof user === 'string' ? user.trim() : '');
  if (!match) return undefined;
  const uid = Number(match[1]);
  const gid = match[2] === undefined ? uid : Number(match[2]);
  return uid === 0 ? undefined : { uid, gid };
}

const copyDir = (uid: number, gid: number) => `user-${uid}-${gid}`;
const copyKeyPattern = /^([A-Z][A-Z0-9_]*)\.user-(\d+)-(\d+)$/;

/** The declared secret a service's reference reads: where it mounts (its target's last part), else its source. */
export function secretReferenceName(reference: unknown): string | undefined {
  if (typeof reference === 'string') return reference;
  if (!isRecord(reference)) return undefined;
  const named = typeof reference.target === 'string' && reference.target !== '' ? reference.target : reference.source;
  return typeof named === 'string' ? path.posix.basename(named) : undefined;
}

/**
 * The rendered compose file with each non-root service's secrets pointed at its own copies. A file
 * with no such service comes back as it is. Every service's `secrets:` list is written as a fresh
 * node, so no alias is left pointing at an anchor the rewrite replaced (crm's worker shares the
 * app's list).
 */
export function withSecretCopies(rendered: string): string {
  const document = parseDocument(rendered, { merge: true });
  const tree = document.toJS({ maxAliasCount: -1 }) as Record<string, unknown>;
  if (!isRecord(tree.services)) return rendered;
  const topSecrets = isRecord(tree.secrets) ? tree.secrets : {};
  const lists = new Map<string, unknown[]>();
  const added = new Map<string, { file: string }>();
  for (const [serviceName, service] of Object.entries(tree.services)) {
    if (!isRecord(service) || !Array.isArray(service.secrets) || service.secrets.length === 0) continue;
    const user = numericUser(service.user);
    lists.set(serviceName, service.secrets.map((reference) => {
      if (!user) return reference;
      const source = typeof reference === 'string' ? reference : isRecord(reference) && typeof reference.source === 'string' ? reference.source : undefined;
      const definition = source === undefined ? undefined : topSecrets[source];
      // Only the secrets tenantctl writes (./secrets/<NAME>) are copied; anything else is left as written.
      if (source === undefined || !isRecord(definition) || typeof definition.file !== 'string' || path.posix.normalize(definition.file) !== `secrets/${source}`) return reference;
      const key = `${source}.${copyDir(user.uid, user.gid)}`;
      added.set(key, { file: `./secrets/${copyDir(user.uid, user.gid)}/${source}` });
      const target = typeof reference === 'string' ? source : String(reference.target ?? source);
      return { ...(isRecord(reference) ? reference : {}), source: key, target };
    }));
  }
  if (added.size === 0) return rendered;
  for (const [serviceName, list] of lists) document.setIn(['services', serviceName, 'secrets'], document.createNode(list));
  for (const [key, definition] of added) document.setIn(['secrets', key], document.createNode(definition));
  return document.toString({ lineWidth: 0 });
}

/** Every copy a rendered compose file mounts: what tenantctl must write before compose runs it. */
export function secretCopiesOf(rendered: string): SecretCopy[] {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isRecord(tree) || !isRecord(tree.secrets)) return [];
  const copies: SecretCopy[] = [];
  for (const [key, definition] of Object.entries(tree.secrets)) {
    const match = copyKeyPattern.exec(key);
    if (!match || !isRecord(definition) || path.posix.normalize(String(definition.file)) !== `secrets/${copyDir(Number(match[2]), Number(match[3]))}/${match[1]}`) continue;
    copies.push({ name: match[1]!, uid: Number(match[2]), gid: Number(match[3]), dir: copyDir(Number(match[2]), Number(match[3])) });
  }
  return copies;
}

/**
 * A parsed compose tree with the copies folded back into the secrets they copy (the swarm stack's
 * view: no copies there, and its secret objects are named after the declared
 * secrets, which rotation versions). A file rendered for compose (a `provision --dry-run` on a
 * compose host, say) then deploys on a swarm as one rendered there would. Changes `tree` in place.
 */
export function foldSecretCopies(tree: Record<string, unknown>): void {
  if (!isRecord(tree.secrets)) return;
  const secrets = tree.secrets;
  const masterOf = (key: string) => {
    const match = copyKeyPattern.exec(key);
    return match && match[1]! in secrets ? match[1]! : undefined;
  };
  for (const service of Object.values(isRecord(tree.services) ? tree.services : {})) {
    if (!isRecord(service) || !Array.isArray(service.secrets)) continue;
    service.secrets = service.secrets.map((reference) => {
      const master = isRecord(reference) && typeof reference.source === 'string' ? masterOf(reference.source) : undefined;
      return master && isRecord(reference) ? { ...reference, source: master } : reference;
    });
  }
  for (const key of Object.keys(secrets)) if (masterOf(key)) delete secrets[key];
}
