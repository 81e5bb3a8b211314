/**
 * Runs a representative scenario of each workflow on the time-skipping server and saves
 * its event history to test/replay/histories/<name>.json. Re-run it (npm run
 * histories:capture) only when a change to a workflow is *meant* to be incompatible
 * and no old executions remain; otherwise the replay test guards the committed ones.
 *
 * Patches: `npm run histories:capture -- --patch <id> old <scenario>` BEFORE adding
 * `patched('<id>')` (the code still takes the old branch), then `-- --patch <id> new
 * <scenario>` after it; they land in histories/patches/<id>.old|new.json and the replay test
 * requires both for every patch id in workflows/.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createTimeSkippingEnv, workflowBundle, uniqueQueue } from '../test/support/temporal-env';
import { replayScenarios } from '../test/replay/scenarios';

const env = await createTimeSkippingEnv();
mkdirSync('test/replay/histories', { recursive: true });
try {
  const args = process.argv.slice(2);
  const jobs: { scenario: (typeof replayScenarios)[number]; workflowId: string; file: string }[] = [];
  if (args[0] === '--patch') {
    const [, id, branch, name] = args;
    const scenario = replayScenarios.find((s) => s.name === name);
    if (!id || (branch !== 'old' && branch !== 'new') || !scenario) {
      throw new Error(`usage: --patch <id> old|new <scenario> (scenarios: ${replayScenarios.map((s) => s.name).join(', ')})`);
    }
    mkdirSync('test/replay/histories/patches', { recursive: true });
    jobs.push({ scenario, workflowId: `${id}.${branch}`, file: `test/replay/histories/patches/${id}.${branch}.json` });
  } else {
    // `npm run histories:capture -- <name>…` captures only those scenarios (default: all).
    for (const scenario of replayScenarios.filter((s) => !args.length || args.includes(s.name))) {
      jobs.push({ scenario, workflowId: `${scenario.name}-replay`, file: `test/replay/histories/${scenario.name}.json` });
    }
  }
  for (const { scenario, workflowId, file } of jobs) {
    const taskQueue = uniqueQueue(scenario.name);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: scenario.activities() });
    await worker.runUntil(scenario.run(env, { taskQueue, workflowId }));
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(file, historyToJSON(history));
    console.log(`captured ${file} (${history.events?.length} events)`);
  }
} finally {
  await env.teardown();
}
