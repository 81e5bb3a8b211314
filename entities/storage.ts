import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';

/** What left the object behind: the reconcile asks the owner's table whether it is still referenced. */
export const STORAGE_ORPHAN_KINDS = ['health_attachment'] as const;
export type StorageOrphanKind = (typeof STORAGE_ORPHAN_KINDS)[number];

/**
 * A stored object that lost its row (the database write failed after the upload) and whose
 * immediate delete failed too, or whose row may exist (the COMMIT's outcome is unknown, so
 * nothing was deleted): the key waits here until the reconcile
 * (`deleteStorageOrphans`, run by the `health-reconcile` Schedule) deletes it. Unique by
 * key: recording the same orphan twice keeps one row.
 */
export const StorageOrphan = defineEntity({
  name: 'StorageOrphan',
  tableName: 'storage_orphans',
  properties: {
    ...baseProperties,
    key: p.string().unique(),
    kind: p.enum(STORAGE_ORPHAN_KINDS),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    lastTriedAt: p.datetime().nullable(),
  },
});
export type StorageOrphan = InferEntity<typeof StorageOrphan>;

/**
 * Records an orphaned object for the reconcile to delete (once per key). Takes the root
 * EntityManager's connection, outside any failed transaction.
 */
export async function recordStorageOrphan(
  em: { getConnection(): { execute(sql: string, params?: unknown[]): Promise<unknown> } },
  key: string,
  kind: StorageOrphanKind,
  error: string,
  /** Deletes tried so far: 1 after a refused delete, 0 when none was tried (an unknown COMMIT outcome). */
  attempts = 1,
): Promise<void> {
  await em
    .getConnection()
    .execute(
      `insert into storage_orphans (id, created_at, updated_at, key, kind, attempts, last_error, last_tried_at) values (gen_random_uuid(), now(), now(), ?, ?, ?, ?, ${attempts ? 'now()' : 'null'}) on conflict (key) do nothing`,
      [key, kind, attempts, error],
    );
}
