import type { TemplateBlock } from './block-schema.js';

/** One template, loaded: its folder, its compose text (block included) and the parsed block. */
export interface Template {
  name: string;
  /** shipped: templates/<name>/ in tenantctl's package; operator: templates.directory/<name>/; file: a path given to `templates validate` or --template-file. */
  source: 'shipped' | 'operator' | 'file';
  dir: string;
  composeFile: string;
  /** The compose template as written, x-tenantctl block included (rendering removes it). */
  text: string;
  block: TemplateBlock;
  /** sha256 over the folder's files (names and contents), recorded with every tenant made from it. */
  checksum: string;
  /** Copied to customers/<id>/initdb/ when present (the database's first start). */
  initdbDir?: string;
  /** The tenant migrations applied to block.migrations' target, when both exist. */
  migrationsDir?: string;
}

export const composeFileName = 'docker-compose.tenant.yml';
