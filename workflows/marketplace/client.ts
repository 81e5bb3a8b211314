/**
 * The one place that starts, signals and queries the listing workflows (used by the API and
 * the marketplace reconcile activity). Client side only; the workflow is imported as a type.
 *
 * Id policy: `listing-<listingId>`. Publish finds a running run (USE_EXISTING: a repeated
 * publish or a reconcile racing the API starts nothing); a closed run (an earlier
 * publication) may be followed by a new one (ALLOW_DUPLICATE).
 */
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { listingWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { HorseIdKey, ListingIdKey, UserIdKey } from '../search-attributes';
import type { listingLifecycle } from './listingLifecycle';
import { renewedSignal, soldSignal, statusQuery, withdrawnSignal, type ListingLifecycleInput, type RenewedInput } from './messages';

/** What the client-side helpers need of a listing row (an active one: expiresAt set). */
export interface LifecycleListing {
  id: string;
  ownerId: string;
  horseId: string | null;
  publication: number;
  expiresAt: Date;
}

/** The workflow input for a listing's current publication and expiry. */
export function lifecycleInput(listing: LifecycleListing, reminderDays: number, expirySetAt: Date | null): ListingLifecycleInput {
  return {
    listingId: listing.id,
    publication: listing.publication,
    expiresAt: listing.expiresAt.toISOString(),
    ...(expirySetAt ? { expirySetAt: expirySetAt.toISOString() } : {}),
    reminderDays,
  };
}

export function lifecycleSearchAttributes(listing: LifecycleListing): TypedSearchAttributes {
  return new TypedSearchAttributes([
    { key: UserIdKey, value: listing.ownerId },
    { key: ListingIdKey, value: listing.id },
    ...(listing.horseId ? [{ key: HorseIdKey, value: listing.horseId }] : []),
  ]);
}

/** Starts the lifecycle of an active listing, or finds the running one. */
export async function startListingLifecycle(client: Client, listing: LifecycleListing, opts: { reminderDays: number; expirySetAt: Date | null }) {
  return client.workflow.start<typeof listingLifecycle>('listingLifecycle', {
    workflowId: listingWorkflowId(listing.id),
    taskQueue: TaskQueue.marketplace,
    args: [lifecycleInput(listing, opts.reminderDays, opts.expirySetAt)],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: lifecycleSearchAttributes(listing),
  });
}

/**
 * Renewal: signalWithStart. A running run moves its timers (or, if it is just finishing an
 * expiry, continues into the new publication); when the run has ended (renewal after
 * expiry), a new run with the same id starts for the new publication.
 */
export async function renewListingLifecycle(client: Client, listing: LifecycleListing, opts: { reminderDays: number; renewedAt: Date }) {
  return client.workflow.signalWithStart<typeof listingLifecycle, [RenewedInput]>('listingLifecycle', {
    workflowId: listingWorkflowId(listing.id),
    taskQueue: TaskQueue.marketplace,
    args: [lifecycleInput(listing, opts.reminderDays, opts.renewedAt)],
    signal: renewedSignal,
    signalArgs: [{ publication: listing.publication, expiresAt: listing.expiresAt.toISOString() }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: lifecycleSearchAttributes(listing),
  });
}

/** Sold or withdrawn: a wake-up only (the run re-reads the row). Throws WorkflowNotFoundError when no run is open. */
export function signalListingEnded(client: Client, listingId: string, action: 'sold' | 'withdraw'): Promise<void> {
  return client.workflow.getHandle<typeof listingLifecycle>(listingWorkflowId(listingId)).signal(action === 'sold' ? soldSignal : withdrawnSignal);
}

export function queryListingStatus(client: Client, listingId: string) {
  return client.workflow.getHandle<typeof listingLifecycle>(listingWorkflowId(listingId)).query(statusQuery);
}

export function describeListingWorkflow(client: Client, listingId: string) {
  return client.workflow.getHandle<typeof listingLifecycle>(listingWorkflowId(listingId)).describe();
}
