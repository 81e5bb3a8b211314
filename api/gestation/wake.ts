import { WorkflowNotFoundError } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { AppDeps } from '../deps';
import { signalGestation } from '../../workflows/gestation/client';

/**
 * Wakes a gestation's workflow AFTER the change is committed. The database is the
 * source of truth and the workflow re-reads it when it wakes, so a signal is only a
 * wake-up: if it cannot be delivered (Temporal down, workflow gone) the change stands,
 * the failure is logged, and the workflow catches up at its next wake-up (at most a week).
 * Shared by the gestation routes and the reminder preferences (a new lead time reschedules).
 */
export async function wakeGestationWorkflow<A extends unknown[]>(deps: Pick<AppDeps, 'temporal' | 'logger'>, gestationId: string, def: SignalDefinition<A>, ...args: A): Promise<void> {
  try {
    const c = await deps.temporal.client();
    await signalGestation(c, gestationId, def, ...args);
  } catch (err) {
    const level = err instanceof WorkflowNotFoundError ? 'info' : 'warn';
    deps.logger[level]({ gestationId, signal: def.name, err: (err as Error).message }, 'could not signal the gestation workflow; the change is saved and the workflow will catch up when it next wakes');
  }
}
