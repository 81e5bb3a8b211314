import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { healthWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { HorseIdKey } from '../search-attributes';
import type { CareItemKey } from '../../domain/health';
import type { healthReminders } from './healthReminders';
import { nextDueQuery, planChangedSignal, recordChangedSignal, remindersChangedSignal, type HealthRemindersState } from './messages';

/**
 * The one typed place that starts, signals and queries the health workflows (used by the
 * API and the reconcile activity). Never imported by workflow code.
 */
const startOptions = (horseId: string) => ({
  workflowId: healthWorkflowId(horseId),
  taskQueue: TaskQueue.health,
  args: [{ horseId }] as [{ horseId: string }],
  // A horse's workflow ends only when the horse is gone; a new run for the same id is fine.
  workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  typedSearchAttributes: new TypedSearchAttributes([{ key: HorseIdKey, value: horseId }]),
});

/** Starts the horse's reminder workflow, or finds the running one (USE_EXISTING: a race with the API starts nothing twice). */
export async function startHealthReminders(client: Client, horseId: string): Promise<WorkflowHandle<typeof healthReminders>> {
  return client.workflow.start<typeof healthReminders>('healthReminders', {
    ...startOptions(horseId),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

/**
 * Tells the horse's workflow that its health book changed (after the commit), starting it
 * if it is not running: the first record of a horse starts its reminders.
 */
export async function healthBookChanged(client: Client, horseId: string, change: { recordId?: string } | { key: CareItemKey }): Promise<void> {
  const opts = startOptions(horseId);
  if ('key' in change) {
    await client.workflow.signalWithStart<typeof healthReminders, [{ key?: CareItemKey }]>('healthReminders', { ...opts, signal: planChangedSignal, signalArgs: [change] });
  } else {
    await client.workflow.signalWithStart<typeof healthReminders, [{ recordId?: string }]>('healthReminders', { ...opts, signal: recordChangedSignal, signalArgs: [change] });
  }
}

/**
 * Tells a horse's running workflow that a recipient's lead time changed. Never starts one:
 * a horse without a running workflow has nothing planned (the reconcile starts missing ones,
 * and they read the new lead time). False when no workflow was running.
 */
export async function healthRemindersChanged(client: Client, horseId: string, change: { leadDays?: number }): Promise<boolean> {
  try {
    await client.workflow.getHandle<typeof healthReminders>(healthWorkflowId(horseId)).signal(remindersChangedSignal, change);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The reminders still to go out for a horse (from the running workflow). */
export async function healthRemindersState(client: Client, horseId: string): Promise<HealthRemindersState> {
  return client.workflow.getHandle<typeof healthReminders>(healthWorkflowId(horseId)).query(nextDueQuery);
}
