import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import * as z from 'zod/mini';
import '../common/zod.js';
import { BatchFailure, TenantctlError, messageOf, usageError } from '../common/errors.js';
import type { Context, Reporter } from '../context.js';
import { parseOrUsage, parseTenantId, planSchema, portOverrideSchema, tenantNameSchema } from './input.js';
import { provision, type ProvisionResult } from './provision.js';
import { runBatch, type BatchItem } from './batch.js';

/** One tenant of a batch, as given on the command line or in --file. */
export interface BatchTenant {
  id: string;
  name?: string;
  plan?: string;
  port?: number;
  /** The template (default templates.default) and its profiles to switch on. */
  template?: string;
  with?: string[];
}

export interface ProvisionBatchResult {
  kind: 'batch';
  tenants: BatchItem<ProvisionResult>[];
  summary: { total: number; active: number; alreadyActive: number; failed: number; durationMs: number };
}

const fileSchema = z.union([z.strictObject({ tenants: z.array(z.unknown()) }), z.array(z.unknown())]);
const entrySchema = z.strictObject({ id: z.string(), name: z.optional(z.string()), plan: z.optional(z.string()), port: z.optional(z.number()), template: z.optional(z.string()), with: z.optional(z.array(z.string())) });

/** tenants.yaml: a list (or `tenants:` list) of ids or of { id, name, plan, port } entries. */
export async function readTenantsFile(file: string): Promise<BatchTenant[]> {
  let raw: unknown;
  try {
    raw = parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw usageError(`${file}: ${messageOf(error).split('\n')[0]}`);
  }
  const shape = z.safeParse(fileSchema, raw);
  if (!shape.success) throw usageError(`${file}: must be a list of tenants, or a mapping with a "tenants" list`);
  const entries = Array.isArray(shape.data) ? shape.data : shape.data.tenants;
  return entries.map((entry, index) => {
    const at = `${file}: tenants.${index}`;
    if (typeof entry === 'string') return { id: entry };
    const parsed = z.safeParse(entrySchema, entry);
    if (!parsed.success) throw usageError(`${at}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'entry'}: ${i.message}`).join('; ')}`);
    return parsed.data;
  });
}

/** Every entry is validated before any tenant is touched: a typo in entry 37 must not leave 36 half-done runs. */
export function validateBatch(tenants: BatchTenant[]): BatchTenant[] {
  if (tenants.length === 0) throw usageError('no tenants given');
  const seen = new Set<string>();
  for (const t of tenants) {
    parseTenantId(t.id);
    if (seen.has(t.id)) throw usageError(`tenant ${t.id} is listed twice`);
    seen.add(t.id);
    if (t.name !== undefined) parseOrUsage(tenantNameSchema, t.name, `tenant ${t.id} name`);
    if (t.plan !== undefined) parseOrUsage(planSchema, t.plan, `tenant ${t.id} plan`);
    if (t.port !== undefined) parseOrUsage(portOverrideSchema, t.port, `tenant ${t.id} port`);
  }
  const ports = tenants.map((t) => t.port).filter((p) => p !== undefined);
  if (new Set(ports).size !== ports.length) throw usageError('two tenants ask for the same --port');
  return tenants;
}

/**
 * Provisions several tenants, `concurrency` at a time, each with its own progress reporter.
 * Throws BatchFailure (exit 9) carrying the full result when any tenant failed; the others stand.
 */
export async function provisionBatch(
  ctx: Context,
  { tenants, concurrency, place = async (c) => c }: {
    tenants: BatchTenant[];
    concurrency: number;
    /** The context on the host each tenant goes to (the fleet's placement); the batch's own by default. */
    place?: (ctx: Context, tenant: BatchTenant) => Promise<Context>;
  },
  reporterFor: (id: string) => Reporter & { done(outcome: string): void },
): Promise<ProvisionBatchResult> {
  const started = ctx.clock.now();
  validateBatch(tenants);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw usageError('--concurrency must be a whole number from 1 to 32');
  await ctx.adminDb(); // open (or start) the admin database once, before the workers race for it
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const items = await runBatch(tenants.map((t) => t.id), concurrency, async (id) => {
    const reporter = reporterFor(id);
    const t = byId.get(id)!;
    try {
      const result = await provision(await place({ ...ctx, reporter }, t), { id, name: t.name ?? t.id, plan: t.plan, port: t.port, template: t.template, with: t.with });
      reporter.done(result.outcome === 'already-active' ? 'already active' : `active ${result.url}`);
      return result;
    } catch (error) {
      reporter.done(`failed: ${messageOf(error)}`);
      throw error;
    }
  }, ctx.signal);

  const ok = items.filter((i): i is Extract<typeof i, { ok: true }> => i.ok);
  const result: ProvisionBatchResult = {
    kind: 'batch',
    tenants: items,
    summary: {
      total: items.length,
      active: ok.filter((i) => i.result.outcome === 'active').length,
      alreadyActive: ok.filter((i) => i.result.outcome === 'already-active').length,
      failed: items.length - ok.length,
      durationMs: ctx.clock.now() - started,
    },
  };
  if (result.summary.failed > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${result.summary.failed} of ${result.summary.total} tenants not provisioned`);
    throw new BatchFailure(result, `${result.summary.failed} of ${result.summary.total} tenants failed; the others stand`);
  }
  return result;
}
