import { isDeepStrictEqual } from 'node:util';
import { parse, parseDocument, visit } from 'yaml';

export class TemplateError extends Error {}

// {{name}}, or {{group.name}} for names with a namespace (a template's ports: {{port.app}}).
const placeholder = /\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z][a-z0-9_-]*)?)\s*\}\}/g;
/** What a mapping key may become after substitution: compose keys are plain names. */
const safeKey = /^[A-Za-z0-9._-]+$/;

export type TemplateVariables = Readonly<Record<string, string>>;

/**
 * Placeholders whose value is an integer that compose needs as a YAML integer: a scalar that is
 * exactly one of them renders unquoted (`pids_limit: "{{pids_limit}}"` -> `pids_limit: 512`).
 * Compose v2 takes a string there too; compose v1 refuses one ("expected int").
 */
const integerPlaceholders = new Set(['pids_limit']);

/**
 * Renders a compose template by replacing {{name}} placeholders inside the parsed YAML tree,
 * never in the text: a value can hold quotes, newlines, ": ", "#" or "${X}" and the document keeps
 * its shape. In values, "$" is doubled so compose does not interpolate what a tenant typed.
 * The result is parsed again and must equal the tree we built, or rendering fails. `omit` names
 * top-level keys left out of the result.
 */
export function renderTemplate(templateText: string, variables: TemplateVariables, { omit = [] }: { omit?: readonly string[] } = {}): string {
  const document = parseDocument(templateText, { merge: true });
  if (document.errors.length > 0) {
    throw new TemplateError(`template is not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`);
  }
  // Top-level keys meant for tenantctl, not compose (a template's x-tenantctl block).
  for (const key of omit) document.delete(key);

  visit(document, {
    Scalar(key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('{{')) return;
      const inKey = key === 'key';
      const whole = /^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$/.exec(node.value)?.[1];
      if (!inKey && whole && integerPlaceholders.has(whole) && /^\d+$/.test(variables[whole] ?? '')) {
        node.value = Number(variables[whole]);
        node.type = 'PLAIN';
        return;
      }
      const value = node.value.replace(placeholder, (_match, name: string) => {
        const replacement = variables[name];
        if (replacement === undefined) throw new TemplateError(`template uses {{${name}}}, which tenantctl does not define`);
        return inKey ? replacement : replacement.replaceAll('$', '$$$$');
      });
      if (value.includes('{{')) throw new TemplateError(`template has a malformed placeholder in ${JSON.stringify(node.value)}`);
      if (inKey && !safeKey.test(value)) throw new TemplateError(`template key ${JSON.stringify(node.value)} renders to ${JSON.stringify(value)}, which is not a plain name`);
      node.value = value;
      // Let the serializer pick a quoting style that is safe for the new content.
      if (node.type === 'PLAIN' || node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') node.type = 'QUOTE_DOUBLE';
    },
  });

  const rendered = document.toString({ lineWidth: 0 });
  const expected = document.toJS({ maxAliasCount: -1 });
  if (!isDeepStrictEqual(parse(rendered, { merge: true, maxAliasCount: -1 }), expected)) {
    throw new TemplateError('rendered document does not parse back to the tree that was built');
  }
  validateComposeShape(expected);
  return rendered;
}

/** The checks compose would fail on late and obscurely; cheap to do before writing anything. */
function validateComposeShape(tree: unknown): void {
  if (!isRecord(tree)) throw new TemplateError('template must be a mapping');
  const services = tree.services;
  if (!isRecord(services) || Object.keys(services).length === 0) throw new TemplateError('template has no services');
  for (const [name, service] of Object.entries(services)) {
    if (!isRecord(service)) throw new TemplateError(`service ${name} must be a mapping`);
    if (typeof service.image !== 'string' || service.image === '') throw new TemplateError(`service ${name} has no image`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Services of a rendered document, with whether each declares a health check. */
export function describeServices(renderedText: string): Array<{ name: string; hasHealthcheck: boolean }> {
  const tree = parse(renderedText, { merge: true, maxAliasCount: -1 }) as Record<string, Record<string, Record<string, unknown>>>;
  return Object.entries(tree.services ?? {}).map(([name, service]) => ({
    name,
    hasHealthcheck: isRecord(service.healthcheck) && service.healthcheck.disable !== true,
  }));
}

