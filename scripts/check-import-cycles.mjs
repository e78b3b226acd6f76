// Fails (exit 1) when src/ has an import circle, counting every kind of import: static, type-only
// and dynamic `import()`. docs/ARCHITECTURE.md keeps the rule; `npm run typecheck` runs this.
// Strongly connected components of the import graph (Tarjan); each one of more than one file is a circle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? 'src');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (full.endsWith('.ts')) files.push(full);
  }
};
walk(root);

const imports = /(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;
const graph = new Map(files.map((file) => {
  const deps = new Set();
  for (const match of readFileSync(file, 'utf8').matchAll(imports)) {
    deps.add(path.normalize(path.join(path.dirname(file), (match[1] ?? match[2]).replace(/\.js$/, '.ts'))));
  }
  return [file, deps];
}));

let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const circles = [];
const visit = (v) => {
  index.set(v, counter);
  low.set(v, counter);
  counter += 1;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(path.relative(process.cwd(), w));
    } while (w !== v);
    if (component.length > 1) circles.push(component.sort());
  }
};
for (const file of graph.keys()) if (!index.has(file)) visit(file);

if (circles.length > 0) {
  for (const circle of circles) console.error(`import circle (${circle.length} files): ${circle.join(' ')}`);
  process.exit(1);
}
console.log(`no import circle in ${path.relative(process.cwd(), root) || '.'} (${files.length} files, static, type-only and dynamic imports)`);
