// The gateway's one write: a batch of counted usage lines into admin_api_usage, and the keys'
// last_used_at, in the caller's transaction. Its own file so that the e2e test runs exactly this
// SQL with the gateway's database role (tenantctl_gateway: INSERT/UPDATE on these columns only; the status classes' since migration 031).
import type { UsageRow } from './usage-files.js';

interface Queryable { query(sql: string, params: unknown[]): Promise<unknown> }

/**
 * A line counts only for the tenant its key belongs to: nginx writes the tenant from the Host and the
 * key id from the gateway's verdict, and a line naming another tenant's key (a bug, or a file written
 * by someone else into the usage folder) is dropped, and touches no key's last_used_at.
 */
export async function writeUsage(client: Queryable, rows: readonly UsageRow[]): Promise<void> {
  await client.query(
    `INSERT INTO admin_api_usage (customer_id, api_key_id, endpoint, request_count, responses_4xx, responses_5xx, period_start, updated_at)
     SELECT u.customer_id, u.api_key_id, u.endpoint, u.request_count, u.responses_4xx, u.responses_5xx, u.period_start, now()
       FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::timestamptz[], $6::bigint[], $7::bigint[]) AS u(customer_id, api_key_id, endpoint, request_count, period_start, responses_4xx, responses_5xx)
       WHERE EXISTS (SELECT 1 FROM admin_api_keys k WHERE k.id = u.api_key_id AND k.customer_id = u.customer_id)
     ON CONFLICT (customer_id, (COALESCE(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid)), endpoint, period_start)
     DO UPDATE SET request_count = admin_api_usage.request_count + EXCLUDED.request_count,
                   responses_4xx = admin_api_usage.responses_4xx + EXCLUDED.responses_4xx,
                   responses_5xx = admin_api_usage.responses_5xx + EXCLUDED.responses_5xx, updated_at = now()`,
    [rows.map((r) => r.customerId), rows.map((r) => r.keyId), rows.map((r) => r.endpoint), rows.map((r) => r.count), rows.map((r) => r.periodStart),
      rows.map((r) => r.responses4xx), rows.map((r) => r.responses5xx)],
  );
  await client.query(
    `UPDATE admin_api_keys k SET last_used_at = now()
       FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::uuid[]) AS p(customer_id, api_key_id)) AS u
      WHERE k.id = u.api_key_id AND k.customer_id = u.customer_id`,
    [rows.map((r) => r.customerId), rows.map((r) => r.keyId)],
  );
}
