/**
 * Summarises `.cpuprofile` files (from `npm run bench -- --profile DIR`): total sampled time, idle
 * share, and the top functions by self time and by inclusive time, so a note can quote the top
 * costs. Usage: `npx tsx bench/profile-summary.ts FILE... [--top N]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function label(n: ProfileNode): string {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/dist\//, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
}

/** The bucket a frame's self time is counted in: a package, a Node subsystem, or a src/ layer. */
function category(n: ProfileNode): string {
  const url = n.callFrame.url;
  const fn = n.callFrame.functionName;
  if (!url) return fn.startsWith('(') ? fn : `native ${fn}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg ${pkg[1]}`;
  const src = /\/(src|bench|test)\/([^/]+)\//.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  const node = /^node:internal\/([^/]+)/.exec(url);
  if (node) return `node ${node[1]}`;
  return url.startsWith('node:') ? `node ${url.slice(5)}` : 'other';
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const cats = new Map<string, number>();
  let total = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const n = byId.get(id);
    if (!n) return;
    const name = label(n);
    if (n.callFrame.functionName === '(idle)') idle += dt;
    else cats.set(category(n), (cats.get(category(n)) ?? 0) + dt);
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const pct = (v: number): string => `${((100 * v) / busy).toFixed(1)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%)`);
  console.log(`  self time by package / subsystem / layer (share of busy):`);
  for (const [k, v] of [...cats].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(v).padStart(6)}  ${k}`);
  console.log(`  top self time (share of busy):`);
  for (const [k, v] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(v).padStart(6)}  ${k}`);
  console.log(`  top inclusive time (share of busy):`);
  for (const [k, v] of [...incl].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(v).padStart(6)}  ${k}`);
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
if (args.length === 0) {
  console.error('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile... [--top N]');
  process.exitCode = 2;
} else {
  for (const f of args) summarise(f, top);
}
