import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { ALL_TASK_QUEUES, TaskQueue } from '../workflows/queues';
import type { Config } from '../config';
import type { Logger } from '../adapters/logger';

/**
 * Temporal Schedules (not cron rows): the safety nets and periodic jobs. Each is created
 * when a worker polling its queue starts, and updated when it exists, so a changed spec
 * (e.g. BILLING_RECONCILE_CRON) takes effect on the next deploy. Ops see, pause and
 * trigger them in the Temporal UI under "Schedules".
 */
export const ScheduleId = {
  billingReconcile: 'billing-reconcile',
  analysisReconcile: 'analysis-reconcile',
  accountsReconcile: 'accounts-reconcile',
  accountEmailsReconcile: 'account-emails-reconcile',
  freePlanCredits: 'free-plan-credits',
  marketplaceReconcile: 'marketplace-reconcile',
  healthReconcile: 'health-reconcile',
} as const;
export const BILLING_RECONCILE_SCHEDULE_ID = ScheduleId.billingReconcile;
export const ANALYSIS_RECONCILE_SCHEDULE_ID = ScheduleId.analysisReconcile;
export const DEFAULT_BILLING_RECONCILE_CRON = '30 3 * * *';

export function billingReconcileSchedule(cron: string = DEFAULT_BILLING_RECONCILE_CRON): ScheduleOptions {
  return {
    scheduleId: ScheduleId.billingReconcile,
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'billingReconcile',
      workflowId: ScheduleId.billingReconcile,
      args: [{}],
      taskQueue: TaskQueue.billing,
      workflowRunTimeout: '2 hours',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '6 hours' },
  };
}

export function analysisReconcileSchedule(opts: { every?: string; olderThanMinutes?: number } = {}): ScheduleOptions {
  return {
    scheduleId: ScheduleId.analysisReconcile,
    spec: { intervals: [{ every: (opts.every ?? '5 minutes') as '5 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'analysisReconcile',
      workflowId: ScheduleId.analysisReconcile,
      args: [{ olderThanMinutes: opts.olderThanMinutes ?? 10 }],
      taskQueue: TaskQueue.analysis,
      workflowRunTimeout: '10 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' },
  };
}

/** Starts the welcome workflow of users whose register could not reach Temporal. */
export function accountsReconcileSchedule(): ScheduleOptions {
  return {
    scheduleId: ScheduleId.accountsReconcile,
    spec: { intervals: [{ every: '15 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'accountsReconcile',
      workflowId: ScheduleId.accountsReconcile,
      args: [{}],
      taskQueue: TaskQueue.accounts,
      workflowRunTimeout: '10 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

/** Starts the email of verification/reset links and invitations whose workflow never started. */
export function accountEmailsReconcileSchedule(): ScheduleOptions {
  return {
    scheduleId: ScheduleId.accountEmailsReconcile,
    spec: { intervals: [{ every: '5 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'accountEmailsReconcile',
      workflowId: ScheduleId.accountEmailsReconcile,
      args: [{}],
      taskQueue: TaskQueue.accounts,
      workflowRunTimeout: '10 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

/** Resets free-plan credits to the plan's monthly allowance on the 1st of each month. */
export function freePlanCreditsSchedule(): ScheduleOptions {
  return {
    scheduleId: ScheduleId.freePlanCredits,
    spec: { cronExpressions: ['0 1 1 * *'] },
    action: {
      type: 'startWorkflow',
      workflowType: 'grantFreePlanCredits',
      workflowId: ScheduleId.freePlanCredits,
      args: [{}],
      taskQueue: TaskQueue.accounts,
      workflowRunTimeout: '2 hours',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '3 days' },
  };
}

/**
 * Expires active listings past their expiry whose workflow did not, and starts the
 * lifecycle workflow of active listings that have none (marketplaceReconcile).
 */
export function marketplaceReconcileSchedule(): ScheduleOptions {
  return {
    scheduleId: ScheduleId.marketplaceReconcile,
    spec: { intervals: [{ every: '15 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'marketplaceReconcile',
      workflowId: ScheduleId.marketplaceReconcile,
      args: [{}],
      taskQueue: TaskQueue.marketplace,
      workflowRunTimeout: '10 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

/**
 * Starts the reminder workflow of horses with health records whose workflow is not running
 * (healthReconcile): the safety net behind the API's signal-with-start.
 */
export function healthReconcileSchedule(): ScheduleOptions {
  return {
    scheduleId: ScheduleId.healthReconcile,
    spec: { intervals: [{ every: '30 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'healthReconcile',
      workflowId: ScheduleId.healthReconcile,
      args: [{}],
      taskQueue: TaskQueue.health,
      workflowRunTimeout: '20 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

/** Creates the schedule, or brings an existing one to these spec, action and policies. */
export async function ensureSchedule(client: Client, options: ScheduleOptions): Promise<'created' | 'updated'> {
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  try {
    await client.schedule
      .getHandle(options.scheduleId)
      .update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
    return 'updated';
  } catch (err) {
    // Deleted between our create and update: create it again.
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create(options);
    return 'created';
  }
}

/** The schedules whose workflows run on the given queues (all queues when empty). */
export function schedulesFor(config: Pick<Config, 'BILLING_RECONCILE_CRON'>, queues: readonly TaskQueue[]): ScheduleOptions[] {
  const polled = new Set(queues.length ? queues : ALL_TASK_QUEUES);
  const all: [TaskQueue, ScheduleOptions][] = [
    [TaskQueue.billing, billingReconcileSchedule(config.BILLING_RECONCILE_CRON)],
    [TaskQueue.analysis, analysisReconcileSchedule()],
    [TaskQueue.accounts, accountsReconcileSchedule()],
    [TaskQueue.accounts, accountEmailsReconcileSchedule()],
    [TaskQueue.accounts, freePlanCreditsSchedule()],
    [TaskQueue.marketplace, marketplaceReconcileSchedule()],
    [TaskQueue.health, healthReconcileSchedule()],
  ];
  return all.filter(([queue]) => polled.has(queue)).map(([, options]) => options);
}

/** Worker start-up: makes sure the schedules exist; a failure is logged, not fatal. */
export async function ensureSchedules(client: Client, config: Pick<Config, 'BILLING_RECONCILE_CRON'>, queues: readonly TaskQueue[], logger: Logger): Promise<void> {
  for (const options of schedulesFor(config, queues)) {
    try {
      const result = await ensureSchedule(client, options);
      logger.info({ schedule: options.scheduleId, result }, 'schedule checked');
    } catch (err) {
      logger.error({ err, schedule: options.scheduleId }, 'could not create or update the schedule');
    }
  }
}
