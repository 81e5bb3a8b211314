import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Patch ids (`patched('<id>')` / `deprecatePatch('<id>')`) used by workflow code, found by
 * reading the sources. Every id needs two committed histories, one per branch:
 * test/replay/histories/patches/<id>.old.json (captured from the code BEFORE the patch)
 * and <id>.new.json (after it), so replay covers the branch old runs take and the branch
 * every new run takes. A patch called with anything but a string literal is reported, since
 * its id cannot be checked.
 */
export interface PatchUse {
  id: string;
  file: string;
}

const CALL = /\b(?:patched|deprecatePatch)\s*\(\s*([^)]*)\)/g;
const LITERAL = /^(['"`])([\w.:-]+)\1$/;

export function findPatchUses(source: string, file: string): { uses: PatchUse[]; unreadable: string[] } {
  const uses: PatchUse[] = [];
  const unreadable: string[] = [];
  for (const m of source.matchAll(CALL)) {
    const arg = m[1].trim();
    const lit = LITERAL.exec(arg);
    if (lit) uses.push({ id: lit[2], file });
    else unreadable.push(`${file}: ${m[0]} (use a string literal so the replay test can find its histories)`);
  }
  return { uses, unreadable };
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

export function scanWorkflowPatches(workflowsDir: string): { uses: PatchUse[]; unreadable: string[] } {
  const all = tsFiles(workflowsDir).map((f) => findPatchUses(readFileSync(f, 'utf8'), relative(process.cwd(), f)));
  return { uses: all.flatMap((a) => a.uses), unreadable: all.flatMap((a) => a.unreadable) };
}

/** What is missing for each patch id, and committed patch histories no patch uses any more. */
export function patchHistoryGaps(ids: readonly string[], files: readonly string[]): { missing: string[]; stale: string[] } {
  const have = new Set(files);
  const missing = [...new Set(ids)].flatMap((id) => [`${id}.old.json`, `${id}.new.json`].filter((f) => !have.has(f)));
  const known = new Set(ids.flatMap((id) => [`${id}.old.json`, `${id}.new.json`]));
  const stale = files.filter((f) => f.endsWith('.json') && !known.has(f));
  return { missing, stale };
}
