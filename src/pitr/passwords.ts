import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import { postgresSuperuser } from '../backups/containers.js';
import type { TemplateBlock } from '../templates/block-schema.js';

// A physical restore brings back the whole cluster, roles and their password hashes included: a
// tenant made by `restore --to-time --as` would hold its source's passwords, not its own. Its own
// (its template's secrets that apply to a PostgreSQL role) are set again once the server has
// promoted, before anything probes it. The value goes through the docker CLI's environment
// (`docker exec -e`), read by psql's \getenv: never on a command line.

export async function applyPasswords(ctx: Context, container: string, anyRole: string, block: Pick<TemplateBlock, 'secrets'>, service: string, secrets: Readonly<Record<string, string>>): Promise<void> {
  const superuser = await postgresSuperuser(ctx.dockerHost, container, anyRole, ctx.signal);
  for (const [name, declaration] of Object.entries(block.secrets)) {
    const applies = declaration.applies;
    if (!applies || !('postgresRole' in applies) || applies.postgresRole.service !== service) continue;
    const value = secrets[name];
    if (value === undefined) throw new TenantctlError('internal', `secret ${name} of the restored tenant is not at hand`);
    const script = `\\getenv pw TENANTCTL_PW\nALTER ROLE :"role" PASSWORD :'pw';\n`;
    const result = await ctx.dockerHost.run(
      ['docker', 'exec', '-e', 'TENANTCTL_PW', container, 'sh', '-c', `printf '%s' "$0" | psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U "$1" -d postgres -v role="$2"`, script, superuser, applies.postgresRole.role],
      { timeoutMs: dockerQueryTimeoutMs, signal: ctx.signal, env: { TENANTCTL_PW: value } },
    );
    if (result.exitCode !== 0) throw new TenantctlError('docker', `setting the password of role ${applies.postgresRole.role} in the restored server failed: ${result.stderrTail.trim().split('\n').pop()}`);
  }
}
