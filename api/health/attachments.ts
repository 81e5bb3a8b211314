import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Response } from 'express';
import { HealthAttachment, HealthRecord, HealthRecordAudit, recordStorageOrphan } from '../../entities';
import type { AppDeps } from '../deps';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { ATTACHMENT_TYPES, attachmentBytesMatch, attachmentKey, isAttachmentType } from '../../domain/health';
import { attachmentView } from './service';
import { storageFailureText } from '../../adapters/storage/failure-text';
import { commitOutcomeUnknown } from '../../entities/commit-outcome';

const TYPES = Object.keys(ATTACHMENT_TYPES).join(', ');

/** A bare media type (`application/pdf; charset=…` → `application/pdf`). */
const bareType = (header: string | undefined) => (header ?? '').split(';')[0].trim().toLowerCase();

/** `filename` for Content-Disposition: printable ASCII without quotes or path separators. */
const safeFilename = (name: string) => name.replace(/[^\x20-\x7e]|["\\/]/g, '_');

/**
 * Attachments of health records, through the storage port with the same rules as videos:
 * a type allow-list (checked against the bytes, not only the header), a size limit
 * (HEALTH_ATTACHMENT_MAX_BYTES, enforced while reading the body: 413) and keys under the
 * horse's organization. The bytes go through the API (files of a few MB), so the row and the
 * object are written together: a failed write to storage rolls the row back, and a failed
 * database write (the commit) deletes the stored object — unless the commit's outcome is
 * unknown, when the reconcile decides from the row.
 */
export function createHealthAttachments(deps: AppDeps) {
  async function ownedRecord(em: EntityManager, user: AuthUser, recordId: string) {
    const record = await em.findOne(HealthRecord, { id: recordId, deletedAt: null, horse: { organization: { $in: memberOrgIds(user) } } }, { populate: ['horse'] });
    if (!record) throw new HttpError(404, `Health record ${recordId} not found`);
    return record;
  }

  async function ownedAttachment(em: EntityManager, user: AuthUser, attachmentId: string) {
    const a = await em.findOne(HealthAttachment, { id: attachmentId, deletedAt: null, record: { deletedAt: null, horse: { organization: { $in: memberOrgIds(user) } } } }, { populate: ['record'] });
    if (!a) throw new HttpError(404, `Attachment ${attachmentId} not found`);
    return a;
  }

  return {
    async upload(em: EntityManager, user: AuthUser, recordId: string, contentTypeHeader: string | undefined, body: unknown, filename: string | undefined) {
      const type = bareType(contentTypeHeader);
      if (!isAttachmentType(type)) throw new HttpError(415, `Content-Type must be one of ${TYPES} (got "${type || 'none'}")`);
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'Send the file as the request body (it was empty)');
      if (!attachmentBytesMatch(type, body)) throw new HttpError(422, `The file is not a ${type}: its first bytes do not match the type`);
      const record = await ownedRecord(em, user, recordId);
      const id = randomUUID();
      const key = attachmentKey(record.horse.organization.id, record.horse.id, id, type);
      // The object is stored inside the transaction, before COMMIT. If anything fails after the
      // upload was attempted and the transaction is certainly rolled back (an error before
      // COMMIT, or Postgres refusing the COMMIT), the object is deleted again so no object
      // outlives its missing row. A failed delete records the key in storage_orphans, which the
      // health-reconcile Schedule retries (deleteStorageOrphans); only when that insert fails
      // too (the database is gone) is the key left to the log. When the COMMIT's outcome is
      // unknown (the connection dropped before its answer), the row may exist: nothing is
      // deleted, the key goes to storage_orphans and the reconcile deletes the object only if
      // no row references it.
      let uploaded = false;
      let committing = false;
      const row = await em.transactional(async (tx) => {
        const a = tx.create(HealthAttachment, {
          id,
          record: tx.getReference(HealthRecord, record.id),
          organizationId: record.horse.organization.id,
          storageKey: key,
          contentType: type,
          size: body.length,
          filename: filename ?? null,
          uploadedById: user.id,
        });
        tx.create(HealthRecordAudit, { recordId: record.id, horseId: record.horse.id, action: 'attach', actorId: user.id, changes: { attachment: { from: null, to: { id, contentType: type, size: body.length, filename: filename ?? null } } } });
        await tx.flush();
        uploaded = true;
        await deps.storage.putObject(key, body, type);
        committing = true; // what fails from here on is the COMMIT
        return a;
      }).catch(async (err: unknown) => {
        if (committing && commitOutcomeUnknown(err)) await recordUnknownOutcome(deps, em, key, err);
        else if (uploaded) await deleteOrRecordOrphan(deps, em, key);
        throw err;
      });
      return attachmentView(row);
    },

    async download(em: EntityManager, user: AuthUser, attachmentId: string, res: Response) {
      const a = await ownedAttachment(em, user, attachmentId);
      await send(deps, a, res);
    },

    async remove(em: EntityManager, user: AuthUser, attachmentId: string) {
      await em.transactional(async (tx) => {
        const a = await ownedAttachment(tx, user, attachmentId);
        a.deletedAt = new Date();
        const horseId = (await tx.findOneOrFail(HealthRecord, { id: a.record.id })).horse.id;
        tx.create(HealthRecordAudit, { recordId: a.record.id, horseId, action: 'detach', actorId: user.id, changes: { attachment: { from: { id: a.id, filename: a.filename ?? null }, to: null } } });
      });
    },

    /** An attachment of the shared horse's live records only. */
    async sharedDownload(em: EntityManager, horseId: string, attachmentId: string, res: Response) {
      const a = await em.findOne(HealthAttachment, { id: attachmentId, deletedAt: null, record: { deletedAt: null, horse: horseId } });
      if (!a) throw new HttpError(404, `Attachment ${attachmentId} not found`);
      await send(deps, a, res);
    },
  };
}

/** Deletes the object of a failed upload now, or leaves its key to the reconcile. */
async function deleteOrRecordOrphan(deps: AppDeps, em: EntityManager, key: string) {
  try {
    await deps.storage.deletePrefix(key);
  } catch (cleanup) {
    const reason = (cleanup as Error).message;
    try {
      await recordStorageOrphan(em, key, 'health_attachment', storageFailureText(cleanup));
      deps.logger.warn({ key, err: reason }, 'health attachment: the object of a failed upload could not be deleted; storage_orphans keeps its key for the reconcile');
    } catch (record) {
      deps.logger.error({ key, err: reason, recordErr: (record as Error).message }, 'health attachment: orphaned object, neither deleted nor recorded in storage_orphans; delete the key by hand');
    }
  }
}

/**
 * The COMMIT's outcome is unknown: the attachment may be saved, so its object stays. Its key
 * goes to storage_orphans, and the reconcile deletes the object only when no row references
 * it (activities/storage/orphans.ts). If even that insert fails, the key is left to the log:
 * an object kept for nothing costs storage, a deleted one would lose a saved record's file.
 */
async function recordUnknownOutcome(deps: AppDeps, em: EntityManager, key: string, err: unknown) {
  const reason = (err as Error)?.message;
  try {
    await recordStorageOrphan(em, key, 'health_attachment', 'the upload\'s COMMIT outcome was unknown (connection lost); kept until the reconcile finds no row', 0);
    deps.logger.warn({ key, err: reason }, 'health attachment: COMMIT outcome unknown; the object is kept and storage_orphans lets the reconcile decide');
  } catch (record) {
    deps.logger.error({ key, err: reason, recordErr: (record as Error).message }, 'health attachment: COMMIT outcome unknown and storage_orphans unreachable; the object is kept: delete the key by hand if no attachment row has it');
  }
}

async function send(deps: AppDeps, a: HealthAttachment, res: Response) {
  const bytes = await deps.storage.getObject(a.storageKey);
  res.status(200);
  res.setHeader('content-type', a.contentType);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-disposition', `attachment; filename="${safeFilename(a.filename ?? `${a.id}.${ATTACHMENT_TYPES[a.contentType as keyof typeof ATTACHMENT_TYPES] ?? 'bin'}`)}"`);
  res.end(bytes);
}
