/**
 * Runs a representative scenario of each workflow on the time-skipping server and saves
 * its event history to test/replay/histories/<name>.json. Re-run it (npm run
 * histories:capture) only when a change to a workflow is *meant* to be incompatible
 * and no old executions remain; otherwise the replay test guards the committed ones.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createTimeSkippingEnv, workflowBundle, uniqueQueue } from '../test/support/temporal-env';
import { replayScenarios } from '../test/replay/scenarios';

const env = await createTimeSkippingEnv();
mkdirSync('test/replay/histories', { recursive: true });
try {
  // `npm run histories:capture -- <name>…` captures only those scenarios (default: all).
  const only = process.argv.slice(2);
  for (const scenario of replayScenarios.filter((s) => !only.length || only.includes(s.name))) {
    const taskQueue = uniqueQueue(scenario.name);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: scenario.activities() });
    const workflowId = `${scenario.name}-replay`;
    await worker.runUntil(scenario.run(env, { taskQueue, workflowId }));
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(`test/replay/histories/${scenario.name}.json`, historyToJSON(history));
    console.log(`captured ${scenario.name} (${history.events?.length} events)`);
  }
} finally {
  await env.teardown();
}
