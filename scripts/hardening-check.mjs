#!/usr/bin/env node
// Container hardening of one compose project, as an auditor counts it: 13 checks per container,
// from `docker inspect` (what the engine runs, not what a file says), and for one of them the
// accounts of the machine it runs on (run it on the Docker host): no host account has the uid a
// container starts as (such an account could read the service's files through /proc/<pid>/root).
//
//   node scripts/hardening-check.mjs <compose project> [--json]
//
// Prints one line per container (its failed checks named) and the total "N of M checks pass".
// Exit 0 when every container passes the four tenantctl requires of every service (capabilities
// dropped, no-new-privileges, read-only root filesystem, a pids limit), 1 when one does not, 2 on
// bad usage. The other nine are reported, not required: an operator's template may have a
// service that must start as root (and a plan with point-in-time recovery starts PostgreSQL as
// root: docs/templates.md, "Hardening"); the shipped templates' services pass all thirteen locally.
import { execFileSync } from 'node:child_process';

const [project, ...rest] = process.argv.slice(2);
if (!project || project.startsWith('-')) {
  console.error('usage: node scripts/hardening-check.mjs <compose project> [--json]');
  process.exit(2);
}
const docker = (args) => execFileSync('docker', args, { encoding: 'utf8', timeout: 30_000 });
/** The host account with this uid, or undefined (getent exits 2 for none). */
const hostAccount = (uid) => {
  try {
    return execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 10_000 }).split(':')[0];
  } catch {
    return undefined;
  }
};

const required = ['capDropAll', 'noNewPrivileges', 'readOnlyRootfs', 'pidsLimit'];
// Environment variables whose name says they hold a secret value (a *_FILE path is fine).
const secretName = /(PASSWORD|SECRET|TOKEN|_KEY)$/i;

const checks = {
  capDropAll: (c) => (c.HostConfig.CapDrop ?? []).some((cap) => /^(CAP_)?ALL$/i.test(cap)),
  noNewPrivileges: (c) => (c.HostConfig.SecurityOpt ?? []).some((opt) => /^no-new-privileges(:true|=true)?$/.test(opt)),
  readOnlyRootfs: (c) => c.HostConfig.ReadonlyRootfs === true,
  pidsLimit: (c) => (c.HostConfig.PidsLimit ?? 0) > 0,
  nonRootUser: (c) => !['', 'root', '0', '0:0', 'root:root'].includes(c.Config.User ?? ''),
  // A numeric non-root uid no account of this machine has (root's and a name's are nonRootUser's business).
  uidNotOnHost: (c) => {
    const uid = /^(\d+)(?::\d+)?$/.exec(c.Config.User ?? '')?.[1];
    return uid === undefined || uid === '0' || hostAccount(uid) === undefined;
  },
  memoryLimit: (c) => c.HostConfig.Memory > 0,
  cpuLimit: (c) => c.HostConfig.NanoCpus > 0 || c.HostConfig.CpuQuota > 0,
  restartPolicy: (c) => ['unless-stopped', 'always', 'on-failure'].includes(c.HostConfig.RestartPolicy?.Name),
  loopbackPorts: (c) => Object.values(c.HostConfig.PortBindings ?? {}).flat().every((b) => b && /^127\./.test(b.HostIp ?? '')),
  noSecretInEnv: (c) => (c.Config.Env ?? []).every((kv) => !secretName.test(kv.split('=')[0])),
  notPrivileged: (c) => c.HostConfig.Privileged !== true,
  noHostNamespaces: (c) => ![c.HostConfig.PidMode, c.HostConfig.IpcMode, c.HostConfig.UTSMode].includes('host'),
};

const ids = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
if (ids.length === 0) {
  console.error(`no containers of compose project ${project}`);
  process.exit(2);
}
const containers = JSON.parse(docker(['inspect', ...ids]));
const rows = containers.map((c) => {
  const failed = Object.entries(checks).filter(([, check]) => !check(c)).map(([name]) => name);
  return { container: c.Name.replace(/^\//, ''), failed };
});
const total = rows.length * Object.keys(checks).length;
const passing = total - rows.reduce((sum, row) => sum + row.failed.length, 0);
const ok = rows.every((row) => row.failed.every((name) => !required.includes(name)));
if (rest.includes('--json')) {
  console.log(JSON.stringify({ project, passing, total, ok, containers: rows }));
} else {
  for (const row of rows) console.log(`${row.container}: ${row.failed.length === 0 ? 'all pass' : `fails ${row.failed.join(', ')}`}`);
  console.log(`${passing} of ${total} checks pass${ok ? '' : ` (required: ${required.join(', ')})`}`);
}
process.exit(ok ? 0 : 1);
