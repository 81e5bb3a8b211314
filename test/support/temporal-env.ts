import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { timeSkippingServerPath } from './infra';
import { workflowsPath } from '../../workers/run';

/**
 * The Java time-skipping test server, started through @temporalio/testing. The SDK gives the
 * JVM a fixed 5 s to open its port; on a loaded CI machine it can miss that, so a start that
 * fails that way is retried (a fresh port each time) before the suite gives up.
 */
export async function createTimeSkippingEnv(attempts = 5): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
      });
    } catch (err) {
      const slowStart = err instanceof Error && /did not start within/.test(err.message);
      if (!slowStart || attempt >= attempts) throw err;
    }
  }
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow code, bundled once per test run. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });
  return bundle;
}

let seq = 0;
/** A task queue no other test uses. */
export const uniqueQueue = (name: string) => `${name}-${process.pid}-${++seq}-${Date.now().toString(36)}`;
