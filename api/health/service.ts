import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request } from 'express';
import type { z } from 'zod';
import { HealthAttachment, HealthPlanOverride, HealthRecord, HealthRecordAudit, HealthShareLink, Horse, dateColumn, planOverrides, recordFacts, type HealthAuditAction } from '../../entities';
import type { AppDeps } from '../deps';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { assertMember, memberOrgIds } from '../organizations/access';
import { loadOwnedHorse } from '../horses/access';
import {
  carePlan,
  dayOf,
  doseOrderProblem,
  dueItems,
  hasInterval,
  healthSummary,
  influenzaDoses,
  influenzaEligibility,
  recordProblems,
  type CareItemKey,
  type CareItemState,
  type CompetitionRules,
  type HealthDetails,
  type HealthRecordKind,
  type HealthSummary,
  type Problem,
  type VaccinationDetails,
} from '../../domain/health';
import { healthBookChanged, healthRemindersChanged } from '../../workflows/health/client';
import { DETAILS_SCHEMAS, type BulkRecordBody, type RecordBody, type UpdateRecordBody } from './schemas';

type Tx = EntityManager;
const today = () => dayOf(Date.now());

/** A 400 that names each field and why, like the route builder's own validation errors. */
export function invalid(problems: Problem[], prefix = 'body'): HttpError {
  const details = problems.map((p) => ({ location: 'body', field: p.field, message: p.message }));
  return new HttpError(422, `Invalid ${prefix}.${problems[0].field}: ${problems[0].message}`, details);
}

/** Per-kind details, checked against the kind's schema (bulk and edits carry untyped details). */
export function parseDetails(kind: HealthRecordKind, details: unknown, field = 'details'): HealthDetails {
  const parsed = (DETAILS_SCHEMAS[kind] as z.ZodType).safeParse(details);
  if (parsed.success) return parsed.data as HealthDetails;
  throw invalid(parsed.error.issues.map((i) => ({ field: [field, ...i.path].join('.'), message: i.message })));
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
/** 32 random bytes, base64url: 43 characters, unguessable. */
export const newToken = () => randomBytes(32).toString('base64url');
export const absoluteUrl = (deps: AppDeps, req: Request, path: string) => new URL(path, deps.config.PUBLIC_URL ?? `${req.protocol}://${req.get('host')}`).toString();

export function attachmentView(a: HealthAttachment) {
  return { id: a.id, recordId: a.record.id, contentType: a.contentType, size: a.size, filename: a.filename ?? null, uploadedById: a.uploadedById, createdAt: a.createdAt };
}

export function recordView(r: HealthRecord, attachments: HealthAttachment[] = []) {
  return {
    id: r.id,
    horseId: r.horse.id,
    kind: r.kind,
    date: dateColumn(r.date),
    details: r.details as unknown as Record<string, unknown>,
    notes: r.notes ?? null,
    batchId: r.batchId ?? null,
    createdById: r.createdById,
    updatedById: r.updatedById ?? null,
    deletedAt: r.deletedAt ?? null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    attachments: attachments.filter((a) => a.record.id === r.id && !a.deletedAt).map(attachmentView),
  };
}

const snapshot = (r: Pick<HealthRecord, 'kind' | 'date' | 'details' | 'notes'>) => ({ kind: r.kind, date: dateColumn(r.date), details: r.details, notes: r.notes ?? null });

function audit(em: Tx, r: HealthRecord, action: HealthAuditAction, actorId: string, changes: Record<string, { from: unknown; to: unknown }>) {
  em.create(HealthRecordAudit, { recordId: r.id, horseId: r.horse.id, action, actorId, changes });
}

/** The health book of a horse as the rules see it: its live records and plan overrides. */
export async function healthBookFacts(em: EntityManager, horse: Horse) {
  const [records, overrides] = await Promise.all([
    em.find(HealthRecord, { horse: horse.id, deletedAt: null }, { orderBy: { date: 'desc', createdAt: 'desc' } }),
    em.find(HealthPlanOverride, { horse: horse.id }),
  ]);
  return { records, overrides };
}

export function planOf(horse: Horse, records: HealthRecord[], overrides: HealthPlanOverride[], on = today()): CareItemState[] {
  return carePlan({ birthDate: horse.birthDate ? dateColumn(horse.birthDate) : null, records: records.map(recordFacts), overrides: planOverrides(overrides), today: on });
}

/** The three facts a marketplace listing may show of the horse's health book (never its records). */
export async function healthSummaryOf(em: EntityManager, horse: Horse): Promise<HealthSummary> {
  const { records, overrides } = await healthBookFacts(em, horse);
  return healthSummary({ birthDate: horse.birthDate ? dateColumn(horse.birthDate) : null, records: records.map(recordFacts), overrides: planOverrides(overrides), today: today() });
}

export const careItemView = (i: CareItemState) => ({
  key: i.key,
  kind: i.kind,
  title: i.title,
  enabled: i.enabled,
  rule: i.rule,
  intervalDays: i.intervalDays,
  lastDone: i.lastDone,
  lastRecordId: i.lastRecordId,
  nextDue: i.nextDue,
  status: i.status,
  attention: i.attention,
});

/** The record's own rules and, for a dose, its order among the horse's other doses. */
async function validateRecord(em: Tx, horseId: string, r: { id?: string; kind: HealthRecordKind; date: string; details: HealthDetails }, field = ''): Promise<Problem[]> {
  const problems = recordProblems(r, today()).map((p) => ({ ...p, field: field ? `${field}.${p.field}` : p.field }));
  if (r.kind === 'vaccination') {
    const others = await em.find(HealthRecord, { horse: horseId, kind: 'vaccination', deletedAt: null, ...(r.id ? { id: { $ne: r.id } } : {}) });
    const problem = doseOrderProblem(
      { date: r.date, ...(r.details as VaccinationDetails) },
      others.map((o) => ({ date: dateColumn(o.date), ...(o.details as VaccinationDetails) })),
    );
    if (problem) problems.push({ field: field ? `${field}.details.doseNumber` : 'details.doseNumber', message: problem });
  }
  return problems;
}

/**
 * The health book service: the routes parse and call one function; transactions, audit
 * rows and the workflow wake-ups live here. Changes are committed first, then the horse's
 * reminder workflow is told (signal-with-start); a wake-up that cannot be delivered is
 * logged and the `health-reconcile` Schedule and the workflow's weekly re-read catch up.
 */
export function createHealthService(deps: AppDeps) {
  async function wake(horseIds: string[], change: { recordId?: string } | { key: CareItemKey }) {
    for (const horseId of horseIds) {
      try {
        await healthBookChanged(await deps.temporal.client(), horseId, change);
      } catch (err) {
        deps.logger.warn({ horseId, err: (err as Error).message }, 'could not wake the health reminders workflow; the change is saved and the workflow (or the reconcile) catches up');
      }
    }
  }

  /**
   * A user changed their reminder lead time: wake the running reminder workflows of every
   * horse whose reminders may reach them (horses with a health record in the organizations
   * they belong to: they are reminded of what they recorded, owners of the rest), so the
   * reminders move now rather than at each workflow's weekly re-read. Wake-ups only: each
   * workflow reads the lead time from the database; one that cannot be told catches up then.
   */
  async function remindersChanged(em: EntityManager, user: AuthUser, change: { leadDays: number }): Promise<{ signalled: number }> {
    const orgIds = memberOrgIds(user);
    if (!orgIds.length) return { signalled: 0 };
    const rows = await em.find(HealthRecord, { horse: { organization: { $in: orgIds } }, deletedAt: null }, { fields: ['horse'] });
    const horseIds = [...new Set(rows.map((r) => r.horse.id))];
    let signalled = 0;
    let next = 0;
    const client = await deps.temporal.client().catch((err: unknown) => {
      deps.logger.warn({ userId: user.id, err: (err as Error).message }, 'could not reach Temporal to move health reminders; the workflows read the new lead time at their weekly re-read');
      return null;
    });
    if (!client) return { signalled: 0 };
    // A few at a time: an owner of a hundred horses should not wait for a hundred round trips in a row.
    await Promise.all(
      Array.from({ length: Math.min(8, horseIds.length) }, async () => {
        for (let i = next++; i < horseIds.length; i = next++) {
          try {
            if (await healthRemindersChanged(client, horseIds[i], change)) signalled += 1;
          } catch (err) {
            deps.logger.warn({ horseId: horseIds[i], err: (err as Error).message }, 'could not wake the health reminders workflow for a new lead time; it catches up at its weekly re-read');
          }
        }
      }),
    );
    return { signalled };
  }

  async function ownedRecord(em: EntityManager, user: AuthUser, horseId: string, recordId: string): Promise<HealthRecord> {
    const record = await em.findOne(HealthRecord, { id: recordId, horse: { id: horseId, organization: { $in: memberOrgIds(user) } }, deletedAt: null });
    if (!record) throw new HttpError(404, `Health record ${recordId} not found`);
    return record;
  }

  return {
    remindersChanged,
    async book(em: EntityManager, user: AuthUser, horseId: string, q: { kind?: HealthRecordKind; page: number; limit: number }) {
      const horse = await loadOwnedHorse(em, user, horseId);
      const { records, overrides } = await healthBookFacts(em, horse);
      const on = today();
      const items = planOf(horse, records, overrides, on).map(careItemView);
      return { horse: { id: horse.id, name: horse.name }, today: on, items, records: await this.records(em, user, horseId, { ...q, includeDeleted: 'false' }) };
    },

    async records(em: EntityManager, user: AuthUser, horseId: string, q: { kind?: HealthRecordKind; page: number; limit: number; includeDeleted: 'true' | 'false' }) {
      await loadOwnedHorse(em, user, horseId);
      const where = { horse: horseId, ...(q.kind ? { kind: q.kind } : {}), ...(q.includeDeleted === 'true' ? {} : { deletedAt: null }) };
      const [rows, total] = await em.findAndCount(HealthRecord, where, { orderBy: { date: 'desc', createdAt: 'desc' }, limit: q.limit, offset: (q.page - 1) * q.limit });
      const attachments = rows.length ? await em.find(HealthAttachment, { record: { $in: rows.map((r) => r.id) }, deletedAt: null }) : [];
      return { items: rows.map((r) => recordView(r, attachments)), total, page: q.page, limit: q.limit };
    },

    async record(em: EntityManager, user: AuthUser, horseId: string, recordId: string) {
      await loadOwnedHorse(em, user, horseId);
      const record = await em.findOne(HealthRecord, { id: recordId, horse: horseId });
      if (!record) throw new HttpError(404, `Health record ${recordId} not found`);
      const [attachments, trail] = await Promise.all([
        em.find(HealthAttachment, { record: record.id, deletedAt: null }),
        em.find(HealthRecordAudit, { recordId: record.id }, { orderBy: { createdAt: 'asc' } }),
      ]);
      return { ...recordView(record, attachments), audit: trail.map((a) => ({ id: a.id, action: a.action, actorId: a.actorId, at: a.createdAt, changes: a.changes })) };
    },

    async create(em: EntityManager, user: AuthUser, horseId: string, body: RecordBody) {
      const created = await em.transactional(async (tx) => {
        const horse = await loadOwnedHorse(tx, user, horseId);
        const problems = await validateRecord(tx, horse.id, body);
        if (problems.length) throw invalid(problems);
        const r = tx.create(HealthRecord, { horse, kind: body.kind, date: body.date, details: body.details as HealthDetails, notes: body.notes ?? null, createdById: user.id });
        audit(tx, r, 'create', user.id, { record: { from: null, to: { kind: body.kind, date: body.date, details: body.details, notes: body.notes ?? null } } });
        return r;
      });
      await wake([horseId], { recordId: created.id });
      return recordView(created);
    },

    /** The same event for several horses at once, all or nothing. */
    async bulk(em: EntityManager, user: AuthUser, body: z.output<typeof BulkRecordBody>) {
      const details = parseDetails(body.kind, body.details);
      const batchId = randomUUID();
      const created = await em.transactional(async (tx) => {
        const horses = await tx.find(Horse, { id: { $in: body.horseIds }, organization: { $in: memberOrgIds(user) } });
        const missing = body.horseIds.find((id) => !horses.some((h) => h.id === id));
        if (missing) throw new HttpError(404, `Horse ${missing} not found`);
        const problems: Problem[] = [];
        for (const [i, horseId] of body.horseIds.entries()) {
          const own = await validateRecord(tx, horseId, { kind: body.kind, date: body.date, details });
          // The record's own problems are the same for every horse: name them once, without the index.
          problems.push(...own.map((p) => (p.field.startsWith('details.doseNumber') ? { field: `horseIds.${i}`, message: `${horses.find((h) => h.id === horseId)!.name}: ${p.message}` } : p)));
        }
        if (problems.length) throw invalid([...new Map(problems.map((p) => [`${p.field}|${p.message}`, p])).values()]);
        return body.horseIds.map((horseId) => {
          const r = tx.create(HealthRecord, {
            horse: horses.find((h) => h.id === horseId)!,
            kind: body.kind,
            date: body.date,
            details,
            notes: body.notes ?? null,
            batchId,
            createdById: user.id,
          });
          audit(tx, r, 'create', user.id, { record: { from: null, to: { kind: body.kind, date: body.date, details, notes: body.notes ?? null } }, batchId: { from: null, to: batchId } });
          return r;
        });
      });
      await wake(body.horseIds, { recordId: batchId });
      return { batchId, records: created.map((r) => recordView(r)) };
    },

    async update(em: EntityManager, user: AuthUser, horseId: string, recordId: string, body: z.output<typeof UpdateRecordBody>) {
      const updated = await em.transactional(async (tx) => {
        const r = await ownedRecord(tx, user, horseId, recordId);
        const before = snapshot(r);
        const next = {
          date: body.date ?? before.date,
          details: body.details !== undefined ? parseDetails(r.kind, body.details) : r.details,
          notes: body.notes !== undefined ? body.notes : before.notes,
        };
        const problems = await validateRecord(tx, horseId, { id: r.id, kind: r.kind, ...next });
        if (problems.length) throw invalid(problems);
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        for (const field of ['date', 'details', 'notes'] as const) {
          if (JSON.stringify(before[field]) !== JSON.stringify(next[field])) changes[field] = { from: before[field], to: next[field] };
        }
        if (!Object.keys(changes).length) return r;
        tx.assign(r, { date: next.date, details: next.details, notes: next.notes, updatedById: user.id });
        audit(tx, r, 'update', user.id, changes);
        return r;
      });
      await wake([horseId], { recordId });
      const attachments = await em.find(HealthAttachment, { record: updated.id, deletedAt: null });
      return recordView(updated, attachments);
    },

    /** A record is evidence: deleting marks it deleted (it leaves the plan and the lists) and keeps it in the audit trail. */
    async remove(em: EntityManager, user: AuthUser, horseId: string, recordId: string) {
      await em.transactional(async (tx) => {
        const r = await ownedRecord(tx, user, horseId, recordId);
        tx.assign(r, { deletedAt: new Date(), deletedById: user.id });
        audit(tx, r, 'delete', user.id, { record: { from: snapshot(r), to: null } });
      });
      await wake([horseId], { recordId });
    },

    async due(em: EntityManager, user: AuthUser, q: { within: number; organizationId?: string }) {
      if (q.organizationId) assertMember(user, q.organizationId, 'Organization');
      const orgIds = q.organizationId ? [q.organizationId] : memberOrgIds(user);
      const horses = await em.find(Horse, { organization: { $in: orgIds } });
      const ids = horses.map((h) => h.id);
      const [records, overrides] = ids.length
        ? await Promise.all([em.find(HealthRecord, { horse: { $in: ids }, deletedAt: null }), em.find(HealthPlanOverride, { horse: { $in: ids } })])
        : [[], []];
      const on = today();
      const items = horses.flatMap((horse) =>
        dueItems(
          planOf(
            horse,
            records.filter((r) => r.horse.id === horse.id),
            overrides.filter((o) => o.horse.id === horse.id),
            on,
          ),
          on,
          q.within,
        ).map((i) => ({ ...careItemView(i), horse: { id: horse.id, name: horse.name, organizationId: horse.organization.id } })),
      );
      // Needing action first (no due date), then by date.
      items.sort((a, b) => (a.nextDue ?? '').localeCompare(b.nextDue ?? '') || a.horse.name.localeCompare(b.horse.name) || a.key.localeCompare(b.key));
      return { today: on, withinDays: q.within, items };
    },

    async eligibility(em: EntityManager, user: AuthUser, horseId: string, q: { date: string; rules: CompetitionRules }) {
      const horse = await loadOwnedHorse(em, user, horseId);
      const records = await em.find(HealthRecord, { horse: horse.id, kind: 'vaccination', deletedAt: null });
      return { horseId: horse.id, ...influenzaEligibility(influenzaDoses(records.map(recordFacts)), q.date, q.rules) };
    },

    async plan(em: EntityManager, user: AuthUser, horseId: string) {
      const horse = await loadOwnedHorse(em, user, horseId);
      const { records, overrides } = await healthBookFacts(em, horse);
      return { horse: { id: horse.id, name: horse.name }, items: planOf(horse, records, overrides).map(careItemView) };
    },

    async setOverride(em: EntityManager, user: AuthUser, horseId: string, key: CareItemKey, body: { enabled: boolean; intervalDays?: number | null }) {
      if (body.intervalDays != null && !hasInterval(key)) {
        throw invalid([{ field: 'intervalDays', message: `${key} has no interval: its due date is the date on its record (expiry or follow-up); only enabled can change` }]);
      }
      await em.transactional(async (tx) => {
        const horse = await loadOwnedHorse(tx, user, horseId);
        const row = await tx.findOne(HealthPlanOverride, { horse: horse.id, itemKey: key });
        const values = { enabled: body.enabled, intervalDays: body.intervalDays ?? null, updatedById: user.id };
        if (row) tx.assign(row, values);
        else tx.create(HealthPlanOverride, { horse, itemKey: key, ...values });
      });
      await wake([horseId], { key });
      return this.plan(em, user, horseId);
    },

    async clearOverride(em: EntityManager, user: AuthUser, horseId: string, key: CareItemKey) {
      await em.transactional(async (tx) => {
        const horse = await loadOwnedHorse(tx, user, horseId);
        await tx.nativeDelete(HealthPlanOverride, { horse: horse.id, itemKey: key });
      });
      await wake([horseId], { key });
      return this.plan(em, user, horseId);
    },

    // ----- share links -----

    async createShareLink(em: EntityManager, user: AuthUser, req: Request, horseId: string, body: { expiresInDays: number; label?: string | null }) {
      const horse = await loadOwnedHorse(em, user, horseId);
      const token = newToken();
      const link = em.create(HealthShareLink, {
        horse,
        tokenHash: hashToken(token),
        label: body.label ?? null,
        expiresAt: new Date(Date.now() + body.expiresInDays * 86_400_000),
        createdById: user.id,
      });
      await em.flush();
      return { ...shareLinkView(link), token, url: absoluteUrl(deps, req, `/api/health/shared/${token}`) };
    },

    async shareLinks(em: EntityManager, user: AuthUser, horseId: string) {
      await loadOwnedHorse(em, user, horseId);
      const links = await em.find(HealthShareLink, { horse: horseId }, { orderBy: { createdAt: 'desc' } });
      return { items: links.map(shareLinkView) };
    },

    async revokeShareLink(em: EntityManager, user: AuthUser, horseId: string, linkId: string) {
      await loadOwnedHorse(em, user, horseId);
      const link = await em.findOne(HealthShareLink, { id: linkId, horse: horseId });
      if (!link) throw new HttpError(404, `Share link ${linkId} not found`);
      link.revokedAt ??= new Date();
      await em.flush();
    },

    /** The link's horse, or 404 whatever is wrong (unknown, revoked, expired): a token reveals nothing else. */
    async sharedLink(em: EntityManager, token: string): Promise<HealthShareLink> {
      const link = await em.findOne(HealthShareLink, { tokenHash: hashToken(token), revokedAt: null, expiresAt: { $gt: new Date() } }, { populate: ['horse'] });
      if (!link) throw new HttpError(404, 'Share link not found, expired or revoked');
      return link;
    },

    async sharedBook(em: EntityManager, token: string) {
      const link = await this.sharedLink(em, token);
      link.lastUsedAt = new Date();
      await em.flush();
      const horse = link.horse;
      const { records, overrides } = await healthBookFacts(em, horse);
      const attachments = records.length ? await em.find(HealthAttachment, { record: { $in: records.map((r) => r.id) }, deletedAt: null }) : [];
      const on = today();
      return {
        horse: { name: horse.name, breed: horse.breed ?? null, birthDate: horse.birthDate ? dateColumn(horse.birthDate) : null, gender: horse.gender },
        expiresAt: link.expiresAt,
        today: on,
        items: planOf(horse, records, overrides, on).map((i) => {
          const { lastRecordId: _internal, ...item } = careItemView(i);
          return item;
        }),
        records: records.map((r) => {
          const { createdById: _c, updatedById: _u, deletedAt: _d, batchId: _b, ...view } = recordView(r, attachments);
          return { ...view, attachments: view.attachments.map((a) => ({ ...a, uploadedById: null })) };
        }),
      };
    },
  };
}

export function shareLinkView(l: HealthShareLink) {
  return { id: l.id, horseId: l.horse.id, label: l.label ?? null, expiresAt: l.expiresAt, revokedAt: l.revokedAt ?? null, createdAt: l.createdAt, lastUsedAt: l.lastUsedAt ?? null };
}

export type HealthService = ReturnType<typeof createHealthService>;
