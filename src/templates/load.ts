import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TenantctlError, messageOf } from '../common/errors.js';
import { shippedTemplatesDir } from '../common/paths.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { parseBlock } from './block-schema.js';
import { templateChecksum } from './checksum.js';
import { composeFileName, type Template } from './template.js';

// Templates by name: the shipped ones in tenantctl's templates/<name>/, the operator's own in
// templates.directory (TENANTCTL_TEMPLATES_DIR)/<name>/. A shipped name wins: an operator folder
// with the same name is listed as shadowed, never used silently in its place.

export interface TemplateSources {
  /** The operator's folder of templates, if configured. */
  directory?: string;
  /** Where the shipped templates are (tests point it elsewhere); default templates/ in the package. */
  shippedDir?: string;
}

const templateName = /^[a-z][a-z0-9_-]{0,39}$/;

/** A template that cannot be used: exit 2 with every problem as a `path: message` line. */
export function invalidTemplate(where: string, problems: string[]): TenantctlError {
  return new TenantctlError('usage', `template ${where} is invalid (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'})`, { details: problems });
}

/** Loads a template folder (or a bare compose file): parses its block; no rendering, no Docker. */
export async function loadTemplateAt(location: string, options: { name?: string; source: Template['source'] }): Promise<Template> {
  const info = await stat(location).catch((error) => {
    throw new TenantctlError('usage', `template ${location}: ${messageOf(error)}`);
  });
  const dir = info.isDirectory() ? location : path.dirname(location);
  const composeFile = info.isDirectory() ? path.join(location, composeFileName) : location;
  const text = await readFile(composeFile, 'utf8').catch((error) => {
    throw new TenantctlError('usage', `template ${location}: ${messageOf(error)}`);
  });
  const document = parseDocument(text, { merge: true });
  if (document.errors.length > 0) throw invalidTemplate(location, [`${path.basename(composeFile)}: not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`]);
  const tree = document.toJS({ maxAliasCount: -1 }) as Record<string, unknown> | null;
  const parsed = parseBlock(tree && typeof tree === 'object' ? tree['x-tenantctl'] : undefined);
  if (!parsed.ok) throw invalidTemplate(location, parsed.problems);
  // A bare file is its own template: its folder may hold anything else, which is not part of it.
  const initdbDir = info.isDirectory() ? await existingDir(path.join(dir, 'initdb')) : undefined;
  const migrationsDir = info.isDirectory() ? await existingDir(path.join(dir, 'migrations')) : undefined;
  return {
    name: options.name ?? (info.isDirectory() ? path.basename(location) : path.basename(location).replace(/\.ya?ml$/, '')),
    source: options.source,
    dir,
    composeFile,
    text,
    block: parsed.block,
    checksum: info.isDirectory() ? await templateChecksum(dir) : await templateChecksum(dir, [path.basename(composeFile)]),
    initdbDir,
    migrationsDir,
  };
}

async function existingDir(dir: string): Promise<string | undefined> {
  return (await stat(dir).catch(ignoreFailure('not there: no such template directory')))?.isDirectory() ? dir : undefined;
}

export interface TemplateEntry {
  name: string;
  source: 'shipped' | 'operator';
  dir: string;
  /** An operator template with a shipped template's name: the shipped one is used. */
  shadowed?: boolean;
}

/** Every template by name: shipped first, then the operator's; folders with a compose template only. */
export async function listTemplates(sources: TemplateSources): Promise<TemplateEntry[]> {
  const shipped = await templateFolders(sources.shippedDir ?? shippedTemplatesDir);
  const operator = sources.directory ? await templateFolders(sources.directory, true) : [];
  const shippedNames = new Set(shipped.map((t) => t.name));
  return [
    ...shipped.map((t) => ({ ...t, source: 'shipped' as const })),
    ...operator.map((t) => ({ ...t, source: 'operator' as const, ...(shippedNames.has(t.name) ? { shadowed: true } : {}) })),
  ];
}

async function templateFolders(root: string, mustExist = false): Promise<Array<{ name: string; dir: string }>> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (!mustExist) return [];
    throw new TenantctlError('usage', `templates directory ${root} (templates.directory, TENANTCTL_TEMPLATES_DIR): ${messageOf(error)}`);
  }
  const found: Array<{ name: string; dir: string }> = [];
  for (const entry of entries.filter((e) => e.isDirectory() && templateName.test(e.name)).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(root, entry.name);
    if (await stat(path.join(dir, composeFileName)).then(() => true, () => false)) found.push({ name: entry.name, dir });
  }
  return found;
}

/** The template called `name`, or exit 2 naming the known ones. */
export async function loadTemplate(name: string, sources: TemplateSources): Promise<Template> {
  if (!templateName.test(name)) throw new TenantctlError('usage', `template name ${JSON.stringify(name)}: must be 1-40 lowercase letters, digits, "_" or "-", starting with a letter`);
  const entries = await listTemplates(sources);
  const entry = entries.find((e) => e.name === name && !e.shadowed);
  if (!entry) {
    const known = entries.filter((e) => !e.shadowed).map((e) => e.name).join(', ') || '(none)';
    throw new TenantctlError('usage', `no template ${name}; known templates: ${known}${sources.directory ? '' : ' (an operator\'s own go in templates.directory / TENANTCTL_TEMPLATES_DIR)'}`);
  }
  return loadTemplateAt(entry.dir, { name, source: entry.source });
}
