import type { Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { listingWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { HorseIdKey, ListingIdKey, UserIdKey } from '../search-attributes';
import type { ListingLifecycleInput } from './listingLifecycle';

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

/**
 * Client-side helper (API publish and the marketplace reconcile) that starts the
 * `listing-<id>` lifecycle of an active listing, or finds the running one (USE_EXISTING:
 * a repeated publish or a reconcile racing the API starts nothing). A closed run (an
 * earlier publication) may be followed by a new one (ALLOW_DUPLICATE). Never imported by
 * workflow code.
 */
export async function startListingLifecycle(client: Client, listing: LifecycleListing, opts: { reminderDays: number; expirySetAt: Date | null }) {
  return client.workflow.start('listingLifecycle', {
    workflowId: listingWorkflowId(listing.id),
    taskQueue: TaskQueue.marketplace,
    args: [lifecycleInput(listing, opts.reminderDays, opts.expirySetAt)],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: lifecycleSearchAttributes(listing),
  });
}
