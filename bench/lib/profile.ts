/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time by
 * package / project folder, time spent under each (inclusive: a sample counts for every
 * package on its stack), and the hottest functions.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg> (scoped too), a project folder (api/auth, entities...), node: internals, or (gc)/(idle)/(program). */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1];
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const project = /\/(api\/[^/]+|entities|adapters\/[^/]+|domain|config|workers|workflows|activities\/[^/]+|bench)\//.exec(url);
  return project ? project[1] : url.replace(/^.*\//, '');
}

/**
 * `skipFraction` drops the first part of the timeline (process start, module loading,
 * warm-up) so the figures describe the steady state under load.
 */
export function summarizeProfile(file: string, top = 15, skipFraction = 0): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfArea = new Map<string, number>();
  const inclArea = new Map<string, number>();
  const selfFn = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const span = p.timeDeltas.reduce((a, b) => a + b, 0);
  let clock = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    clock += dt;
    if (clock < span * skipFraction) return;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    total += dt;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    selfArea.set(area, (selfArea.get(area) ?? 0) + dt);
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${areaOf(node.callFrame.url, '')}:${node.callFrame.lineNumber + 1}`;
    selfFn.set(fn, (selfFn.get(fn) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      seen.add(areaOf(f.url, f.functionName));
    }
    for (const a of seen) inclArea.set(a, (inclArea.get(a) ?? 0) + dt);
  });
  const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `    ${pct(v)}  ${k}`)
      .join('\n');
  return [
    `  busy ${(total / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`,
    `  self time by area:\n${list(selfArea)}`,
    `  inclusive time by area (a sample counts for every area on its stack):\n${list(inclArea)}`,
    `  hottest functions (self):\n${list(selfFn)}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const skip = Number(process.env.PROFILE_SKIP ?? 0);
  for (const f of process.argv.slice(2)) console.log(`${f}\n${summarizeProfile(f, 25, skip)}`);
}
