import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import type { StoragePort } from '../../adapters/storage/port';
import { HealthAttachment, StorageOrphan, type StorageOrphanKind } from '../../entities';
import { storageFailureText } from '../../adapters/storage/failure-text';

export interface StorageOrphansReport {
  /** Keys deleted from storage and dropped from storage_orphans. */
  deleted: string[];
  /** Keys whose row exists after all: dropped from storage_orphans, the object kept. */
  referenced: string[];
  /** Keys whose delete failed again: they stay for the next run, with the error. */
  failed: string[];
}

/**
 * Whether a key is still in use after all: a COMMIT can succeed and still be reported as
 * failed (the connection dropped before the answer), so the reconcile never deletes an
 * object whose row exists.
 */
const stillReferenced: Record<StorageOrphanKind, (orm: MikroORM, key: string) => Promise<boolean>> = {
  health_attachment: async (orm, key) => (await orm.em.fork().count(HealthAttachment, { storageKey: key })) > 0,
};

/**
 * Deletes the objects recorded in storage_orphans (api/health/attachments.ts records the key
 * of an upload whose row failed and whose immediate delete failed too). Idempotent: a
 * deleted key is dropped from the table, a failed one keeps its row with the attempt count
 * and the error, so the next run (the `health-reconcile` Schedule) tries again.
 */
export function createStorageOrphanActivities(deps: { orm: MikroORM; storage: StoragePort; logger: Logger }) {
  return {
    async deleteStorageOrphans(req: { limit: number }): Promise<StorageOrphansReport> {
      const em = deps.orm.em.fork();
      const rows = await em.find(StorageOrphan, {}, { orderBy: { createdAt: 'asc' }, limit: req.limit });
      const report: StorageOrphansReport = { deleted: [], referenced: [], failed: [] };
      for (const row of rows) {
        try {
          if (await stillReferenced[row.kind](deps.orm, row.key)) {
            report.referenced.push(row.key);
          } else {
            await deps.storage.deletePrefix(row.key);
            report.deleted.push(row.key);
          }
          em.remove(row);
        } catch (err) {
          row.attempts += 1;
          row.lastError = storageFailureText(err);
          row.lastTriedAt = new Date();
          report.failed.push(row.key);
          deps.logger.warn({ key: row.key, attempts: row.attempts, err: (err as Error)?.message }, 'storage orphan could not be deleted; kept for the next reconcile');
        }
      }
      await em.flush();
      if (report.deleted.length) deps.logger.info({ keys: report.deleted }, 'storage orphans deleted');
      return report;
    },
  };
}

export type StorageOrphanActivities = ReturnType<typeof createStorageOrphanActivities>;
