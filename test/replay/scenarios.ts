import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { welcomeWorkflow } from '../../workflows/accounts/welcome';

/**
 * One representative run per workflow, with canned activity results. Captured once into
 * histories/*.json (scripts/capture-history.ts); test/replay/replay.test.ts replays them
 * against the current workflow code, so a change that would break running workflows
 * fails CI before deploy. A feature adds its workflow here.
 */
export interface ReplayScenario {
  name: string;
  /** Workflow function name as registered in workflows/index.ts. */
  workflowType: string;
  activities: () => Record<string, (...args: any[]) => Promise<unknown>>;
  run: (env: TestWorkflowEnvironment, opts: { taskQueue: string; workflowId: string }) => Promise<unknown>;
}

export const replayScenarios: ReplayScenario[] = [
  {
    name: 'welcome',
    workflowType: 'welcomeWorkflow',
    activities: () => ({
      getUserProfile: async () => ({ userId: 'u1', email: 'ada@example.test', firstName: 'Ada', plan: 'free' }),
      sendEmail: async () => ({ status: 'sent', outboxId: 'o1' }),
      notifyInApp: async () => ({ notificationId: 'n1', created: true }),
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(welcomeWorkflow, { taskQueue, workflowId, args: [{ userId: 'u1' }] }),
  },
];
