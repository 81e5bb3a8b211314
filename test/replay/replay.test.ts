import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { workflowBundle } from '../support/temporal-env';
import { replayScenarios } from './scenarios';
import { findPatchUses, patchHistoryGaps, scanWorkflowPatches } from './patches';

const dir = new URL('./histories/', import.meta.url);
const patchDir = new URL('./histories/patches/', import.meta.url);
const workflowsDir = fileURLToPath(new URL('../../workflows/', import.meta.url));
const load = (file: string) => historyFromJSON(JSON.parse(readFileSync(new URL(file, dir), 'utf8')));

describe('replay of committed workflow histories', () => {
  it('has a committed history for every scenario', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).to.deep.equal(replayScenarios.map((s) => `${s.name}.json`).sort());
  });

  for (const scenario of replayScenarios) {
    it(`replays ${scenario.name} against the current workflow code without non-determinism`, async function () {
      this.timeout(120_000);
      const result = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, load(`${scenario.name}.json`), `${scenario.name}-replay`);
      expect(result).to.equal(undefined);
    });
  }

  it('negative control: an incompatible version of the welcome workflow fails replay', async function () {
    this.timeout(120_000);
    const bundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./incompatible/welcome.ts', import.meta.url)),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const err = await Worker.runReplayHistory({ workflowBundle: bundle }, load('welcome.json'), 'welcome-replay').catch((e) => e);
    expect(err).to.be.instanceOf(DeterminismViolationError);
  });

  describe('every patched() branch has a history', () => {
    const scan = scanWorkflowPatches(workflowsDir);
    const files = readdirSync(patchDir).filter((f) => f.endsWith('.json'));

    it('finds every patch id as a string literal', () => {
      expect(scan.unreadable).to.deep.equal([]);
    });

    it('has an .old and a .new history for each patch id, and none left over from removed patches', () => {
      const gaps = patchHistoryGaps(
        scan.uses.map((u) => u.id),
        files,
      );
      expect(gaps.missing, 'capture them: npm run histories:capture -- --patch <id> old|new <scenario>').to.deep.equal([]);
      expect(gaps.stale, 'patch removed: delete its histories').to.deep.equal([]);
    });

    for (const file of files) {
      it(`replays patch history ${file}`, async function () {
        this.timeout(120_000);
        const history = historyFromJSON(JSON.parse(readFileSync(new URL(file, patchDir), 'utf8')));
        // scripts/capture-history.ts runs patch captures with the file name (minus .json) as workflow id.
        const result = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file.replace(/\.json$/, ''));
        expect(result).to.equal(undefined);
      });
    }

    it('negative control: a patch id without histories, or not a literal, is reported', () => {
      const src = "if (patched('billing-new-thing')) {}\nconst id = 'x';\nif (patched(id)) {}";
      const found = findPatchUses(src, 'workflows/x.ts');
      expect(found.uses).to.deep.equal([{ id: 'billing-new-thing', file: 'workflows/x.ts' }]);
      expect(found.unreadable).to.have.length(1);
      expect(patchHistoryGaps(['billing-new-thing'], ['billing-new-thing.old.json', 'gone.new.json'])).to.deep.equal({
        missing: ['billing-new-thing.new.json'],
        stale: ['gone.new.json'],
      });
    });
  });
});
