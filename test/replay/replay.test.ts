import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { workflowBundle } from '../support/temporal-env';
import { replayScenarios } from './scenarios';

const dir = new URL('./histories/', import.meta.url);
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
});
