/**
 * The one place that starts, signals and queries the gestation workflows (used by the
 * gestation API and the reminder preferences). Client side only; the workflow is imported
 * as a type.
 *
 * Id policy: `gestation-<gestationId>`, started once per gestation row: a second start fails
 * (FAIL) and a closed id is never reused (REJECT_DUPLICATE). Signals are wake-ups only:
 * the workflow re-reads the database, which the API commits first.
 */
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { gestationWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { GestationIdKey, HorseIdKey, UserIdKey } from '../search-attributes';
import type { gestationTracking } from './gestationTracking';
import { timelineQuery, type GestationInput, type GestationTimeline } from './messages';

export async function startGestationTracking(client: Client, input: GestationInput, opts: { mareId: string }) {
  return client.workflow.start<typeof gestationTracking>('gestationTracking', {
    taskQueue: TaskQueue.gestation,
    workflowId: gestationWorkflowId(input.gestationId),
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: UserIdKey, value: input.userId },
      { key: HorseIdKey, value: opts.mareId },
      { key: GestationIdKey, value: input.gestationId },
    ],
  });
}

export function signalGestation<A extends unknown[]>(client: Client, gestationId: string, def: SignalDefinition<A>, ...args: A): Promise<void> {
  return client.workflow.getHandle<typeof gestationTracking>(gestationWorkflowId(gestationId)).signal(def, ...args);
}

export function queryGestationTimeline(client: Client, gestationId: string): Promise<GestationTimeline> {
  return client.workflow.getHandle<typeof gestationTracking>(gestationWorkflowId(gestationId)).query(timelineQuery);
}
