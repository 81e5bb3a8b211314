import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { TaskQueue } from '../workflows/queues';
import type { Config } from '../config';
import type { Logger } from '../adapters/logger';
import { TemporalGateway } from '../adapters/temporal/client';

export const BILLING_RECONCILE_SCHEDULE_ID = 'billing-reconcile';
export const DEFAULT_BILLING_RECONCILE_CRON = '30 3 * * *';

function billingReconcileOptions(cron: string): ScheduleOptions {
  return {
    scheduleId: BILLING_RECONCILE_SCHEDULE_ID,
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'billingReconcile',
      workflowId: BILLING_RECONCILE_SCHEDULE_ID,
      args: [{}],
      taskQueue: TaskQueue.billing,
      workflowRunTimeout: '2 hours',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '6 hours' },
  };
}

/**
 * The nightly `billing-reconcile` Schedule (compares Stripe with the database and signals
 * drifted subscription workflows). Created at worker start; when it exists already its spec
 * and action are updated, so a changed BILLING_RECONCILE_CRON takes effect. Idempotent.
 */
export async function ensureBillingReconcileSchedule(client: Client, opts: { cron?: string } = {}): Promise<'created' | 'updated'> {
  const options = billingReconcileOptions(opts.cron ?? DEFAULT_BILLING_RECONCILE_CRON);
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  try {
    await client.schedule.getHandle(BILLING_RECONCILE_SCHEDULE_ID).update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
    return 'updated';
  } catch (err) {
    // Deleted between our create and update: create it again.
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create(options);
    return 'created';
  }
}

/** Worker start-up: makes sure the billing Schedules exist; a failure is logged, not fatal. */
export async function ensureBillingSchedules(config: Config, logger: Logger): Promise<void> {
  const gateway = new TemporalGateway({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  try {
    const result = await ensureBillingReconcileSchedule(await gateway.client(), { cron: config.BILLING_RECONCILE_CRON });
    logger.info({ schedule: BILLING_RECONCILE_SCHEDULE_ID, result }, 'schedule checked');
  } catch (err) {
    logger.error({ err }, `could not create the ${BILLING_RECONCILE_SCHEDULE_ID} schedule`);
  } finally {
    await gateway.close();
  }
}
