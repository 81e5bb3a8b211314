import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import * as workflows from '../../workflows';

/**
 * Clients and Schedules name the workflow to run by a string (Temporal's workflow type).
 * A typo, or a workflow renamed without its callers, compiles and fails only at run time
 * ("Workflow type not found" on the worker). This test reads every place that names a
 * workflow type and checks each name against the functions workflows/index.ts exports
 * (what the workers register), and that a `typeof X` type argument names the same X.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = ['workflows', 'workers', 'activities', 'api', 'adapters'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface TypeUse {
  file: string;
  name: string;
  /** The X of `<typeof X, …>` when the call is typed. */
  typed?: string;
}

/** Workflow-type strings: workflow.start / execute / signalWithStart / startChild / executeChild calls and Schedule `workflowType:` fields. */
export function workflowTypeUses(file: string, text: string): TypeUse[] {
  const uses: TypeUse[] = [];
  const call = /\b(?:start|execute|signalWithStart|startChild|executeChild)\s*(?:<\s*typeof\s+(\w+)[^>]*>)?\s*\(\s*'(\w+)'/g;
  for (const m of text.matchAll(call)) uses.push({ file, name: m[2], typed: m[1] });
  for (const m of text.matchAll(/\bworkflowType:\s*'(\w+)'/g)) uses.push({ file, name: m[1] });
  return uses;
}

describe('workflow type names', () => {
  const exported = new Set(Object.entries(workflows).filter(([, v]) => typeof v === 'function').map(([k]) => k));
  const uses = SCANNED.flatMap((d) => sourceFiles(join(ROOT, d))).flatMap((f) => workflowTypeUses(relative(ROOT, f), readFileSync(f, 'utf8')));

  it('finds the workflow types the clients and Schedules name (the scan itself works)', () => {
    const names = new Set(uses.map((u) => u.name));
    for (const expected of ['analyzeVideo', 'listingLifecycle', 'gestationTracking', 'subscriptionLifecycle', 'healthReminders', 'marketplaceReconcile']) {
      expect(names, `no use of ${expected} found: the scan patterns no longer match the code`).to.include(expected);
    }
  });

  it('names only workflows that workflows/index.ts exports', () => {
    const unknown = uses.filter((u) => !exported.has(u.name)).map((u) => `${u.file}: '${u.name}'`);
    expect(unknown, `workflow types with no exported workflow function (exported: ${[...exported].join(', ')})`).to.deep.equal([]);
  });

  it('types each call with the workflow it names (typeof X with the string X)', () => {
    const mismatched = uses.filter((u) => u.typed && u.typed !== u.name).map((u) => `${u.file}: typeof ${u.typed} with '${u.name}'`);
    expect(mismatched).to.deep.equal([]);
  });

  it('would catch a misspelt name (negative control on a made-up source)', () => {
    const found = workflowTypeUses('made-up.ts', `client.workflow.start<typeof analyzeVideo>('analyseVideo', {}); const s = { workflowType: 'healthReconcil' };`);
    expect(found.filter((u) => !exported.has(u.name)).map((u) => u.name)).to.deep.equal(['analyseVideo', 'healthReconcil']);
    expect(found.filter((u) => u.typed && u.typed !== u.name)).to.have.length(1);
  });
});
