import type { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode, UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { Horse, Gestation, GestationCheck, ReminderLog } from '../../entities';
import { GESTATION_MARE_ACTIVE_UNIQUE, reminderPreferencesOf } from '../../entities/gestation';
import type { AppDeps } from '../deps';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { findPage, inMyOrganizations, loadOwned, type PageQuery } from '../organizations/scope';
import { loadOwnedHorse, toDateString } from '../horses/access';
import {
  ACTIVE_GESTATION_STATUSES,
  appendNotes,
  assertTracking,
  checkRecorded,
  doneMilestones,
  expectedFoalingDate,
  foalGender,
  gestationFoaled,
  gestationLost,
  gestationMilestones,
  isActiveStatus,
  planAnchor,
  recordedTimeline,
  type GestationOptions,
} from '../../domain/gestation';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  gestationLostSignal,
  remindersChangedSignal,
  type GestationInput,
} from '../../workflows/gestation/messages';
import { reminderClock } from '../../domain/reminder-window';
import { queryGestationTimeline, startGestationTracking } from '../../workflows/gestation/client';
import type { CreateGestationBody, ListGestationsQuery, RecordCheckBody, RecordFoalingBody, RecordLossBody, UpdateGestationBody } from './schemas';
import { checkView, gestationView, reminderView } from './views';
import { wakeGestationWorkflow } from './wake';

/**
 * Gestation tracking's application layer: registrations, corrections and recorded events
 * (check, loss, foaling) as transactions whose transitions are the pure rules of
 * domain/gestation.ts, then the gestationTracking workflow. The database is the truth:
 * a change is committed first, then the workflow is woken (it re-reads the row).
 */
export type GestationService = ReturnType<typeof createGestationService>;

/**
 * A field refused by a rule the document cannot state (what is stored: the mare's gender, the
 * cover dates of this gestation; or a combination of fields): 422, as schema-valid input.
 */
const fieldError = (field: string, message: string, status = 422) =>
  new HttpError(status, `Invalid body.${field}: ${message}`, [{ location: 'body', field, message }]);

/** The cause goes to the log with the error (the handler logs every 5xx); the client learns only that it may retry. */
const temporalUnavailable = (err: unknown) =>
  Object.assign(new HttpError(503, 'The reminder service is unavailable right now, nothing was changed; retry later'), { cause: err });

const anchorOf = (p: Gestation) => planAnchor(p.coverDates, toDateString(p.ovulationDate));
const earliestCover = (p: Gestation) => [...p.coverDates].sort()[0];

/** A gestation of one of the caller's organizations with its mare, else 404. */
async function loadOwnGestation(em: EntityManager, user: AuthUser, id: string): Promise<Gestation> {
  const p = await loadOwned(em, Gestation, user, id, { what: 'Gestation' });
  await em.populate(p, ['mare']);
  return p;
}

/**
 * The same, locked for the rest of the transaction: every transition (correction, check, loss,
 * foaling) reads the status after any concurrent one committed, so two concurrent foalings
 * cannot both see an active gestation and create two foals.
 */
async function lockOwnGestation(tx: EntityManager, user: AuthUser, id: string): Promise<Gestation> {
  const p = await loadOwned(tx, Gestation, user, id, { what: 'Gestation', lock: true });
  await tx.populate(p, ['mare']);
  return p;
}

/** An event (check, loss, foaling) cannot happen before the mare was covered. */
function assertNotBeforeCover(p: Gestation, field: string, date: string, what: string) {
  const first = earliestCover(p);
  if (date < first) throw fieldError(field, `${what} must not be before the cover date (${first})`);
}

export function createGestationService(deps: Pick<AppDeps, 'config' | 'temporal' | 'logger'>) {
  async function client(): Promise<Client> {
    try {
      return await deps.temporal.client();
    } catch (err) {
      throw temporalUnavailable(err);
    }
  }

  const wakeWorkflow = <A extends unknown[]>(gestationId: string, def: SignalDefinition<A>, ...args: A) => wakeGestationWorkflow(deps, gestationId, def, ...args);

  /** The timeline: live from the running workflow, else rebuilt from the database. */
  async function timelineOf(em: EntityManager, p: Gestation) {
    if (isActiveStatus(p.status)) {
      try {
        const c = await deps.temporal.client();
        const live = await queryGestationTimeline(c, p.id);
        const { gestationId: _id, status: _status, ...rest } = live;
        return { source: 'workflow' as const, ...rest };
      } catch (err) {
        deps.logger.warn({ gestationId: p.id, err: (err as Error).message }, 'timeline query failed; rebuilding it from the database');
      }
    }
    const prefs = await reminderPreferencesOf(em, p.createdById, deps.config.REMINDER_LEAD_DAYS);
    const anchor = anchorOf(p);
    const plan = { ...anchor, leadDays: prefs.leadDays, options: p.options, previousGestationDays: p.previousGestationDays, ...reminderClock(p.id, deps.config) };
    const logs = await em.find(ReminderLog, { gestationId: p.id });
    const checks = await em.find(GestationCheck, { gestation: p.id });
    const sent = Object.fromEntries(logs.map((l) => [l.milestoneId, l.sentAt.toISOString()]));
    const until = p.endedAt ? p.endedAt.getTime() : Date.now();
    return {
      source: 'database' as const,
      anchorDate: anchor.anchorDate,
      anchor: anchor.anchor,
      leadDays: prefs.leadDays,
      expectedFoalingDate: expectedFoalingDate(plan),
      milestones: recordedTimeline(gestationMilestones(plan), { sent, done: doneMilestones(checks, p.status), ended: !isActiveStatus(p.status) }, until),
    };
  }

  /** A gestation with its checks, the reminders sent and its timeline. */
  async function detailView(em: EntityManager, p: Gestation) {
    const checks = await em.find(GestationCheck, { gestation: p.id }, { orderBy: { date: 'asc', createdAt: 'asc' } });
    const reminders = await em.find(ReminderLog, { gestationId: p.id }, { orderBy: { sentAt: 'asc' } });
    return { ...gestationView(p), checks: checks.map(checkView), reminders: reminders.map(reminderView), timeline: await timelineOf(em, p) };
  }

  /** The detail as committed, read through a fresh EntityManager (after a transaction and a signal). */
  const freshDetail = (em: EntityManager, user: AuthUser, id: string) => {
    const read = em.fork();
    return loadOwnGestation(read, user, id).then((p) => detailView(read, p));
  };

  return {
    /**
     * Registers a cover and starts tracking: one active gestation per mare (serialised on her
     * row, the partial unique index as backstop), then the workflow. If Temporal refuses,
     * the row is removed again and the answer is 503 (nothing changed).
     */
    async register(em: EntityManager, user: AuthUser, body: z.output<typeof CreateGestationBody>) {
      const mare = await loadOwnedHorse(em, user, body.mareId);
      if (mare.gender !== 'mare') throw fieldError('mareId', `must be a mare (${mare.name} is a ${mare.gender})`);
      if (body.stallionId) {
        const stallion = await loadOwnedHorse(em, user, body.stallionId);
        if (stallion.gender !== 'stallion') throw fieldError('stallionId', `must be a stallion (${stallion.name} is a ${stallion.gender})`);
        // The foal's sire must be a horse of its own organization (as in the horses API); else give stallionName.
        if (stallion.organization.id !== mare.organization.id) throw fieldError('stallionId', "must be a stallion of the mare's organization (give stallionName for another stable's stallion)");
      }
      const alreadyTracked = (id?: string) =>
        new HttpError(409, `${mare.name} already has a gestation being tracked${id ? ` (${id})` : ''}`, [{ location: 'body', field: 'mareId', message: 'already has a gestation being tracked' }]);

      const prefs = await reminderPreferencesOf(em, user.id, deps.config.REMINDER_LEAD_DAYS);
      const coverDates = [...new Set(body.coverDates)].sort();
      const anchor = planAnchor(coverDates, body.ovulationDate);
      const options: GestationOptions = body.options ?? {};
      const previousGestationDays = body.previousGestationDays ?? [];

      let gestation: Gestation;
      try {
        gestation = await em.transactional(async (tx) => {
          await tx.lock(tx.getReference(Horse, mare.id), LockMode.PESSIMISTIC_WRITE);
          const running = await tx.findOne(Gestation, { mare: mare.id, status: { $in: [...ACTIVE_GESTATION_STATUSES] } });
          if (running) throw alreadyTracked(running.id);
          const p = tx.create(Gestation, {
            organization: mare.organization.id,
            mare: mare.id,
            createdById: user.id,
            stallionId: body.stallionId ?? null,
            stallionName: body.stallionName ?? null,
            coverDates,
            ovulationDate: body.ovulationDate ?? null,
            method: body.method,
            vetName: body.vet?.name ?? null,
            vetContact: body.vet?.contact ?? null,
            status: 'tracking',
            expectedFoalingDate: expectedFoalingDate({ ...anchor, previousGestationDays }),
            options,
            previousGestationDays,
            notes: body.notes ?? null,
          });
          await tx.flush();
          return p;
        });
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException && err.message.includes(GESTATION_MARE_ACTIVE_UNIQUE)) throw alreadyTracked();
        throw err;
      }

      // Committed: now start the workflow (it reads the row, so the row must exist first).
      // Should the start have happened after all (a timeout after the server accepted it),
      // the workflow finds no row on its first read and ends quietly.
      const input: GestationInput = { gestationId: gestation.id, userId: user.id, ...anchor, leadDays: prefs.leadDays, options, previousGestationDays, ...reminderClock(gestation.id, deps.config) };
      try {
        const c = await client();
        await startGestationTracking(c, input, { mareId: mare.id });
      } catch (err) {
        try {
          await em.fork().nativeDelete(Gestation, { id: gestation.id });
        } catch (cleanup) {
          deps.logger.error({ gestationId: gestation.id, err: (cleanup as Error).message }, 'gestation workflow did not start and the gestation row could not be removed; delete it or start its workflow by hand');
        }
        throw err instanceof HttpError ? err : temporalUnavailable(err);
      }
      const fresh = await em.fork().findOneOrFail(Gestation, { id: gestation.id }, { populate: ['mare'] });
      return detailView(em, fresh);
    },

    list(em: EntityManager, user: AuthUser, query: z.output<typeof ListGestationsQuery> & PageQuery) {
      const where: FilterQuery<Gestation> = inMyOrganizations(user);
      if (query.status) where.status = query.status;
      else if (query.active === 'true') where.status = { $in: [...ACTIVE_GESTATION_STATUSES] };
      else if (query.active === 'false') where.status = { $nin: [...ACTIVE_GESTATION_STATUSES] };
      if (query.mareId) where.mare = query.mareId;
      return findPage(em, Gestation, where, query, { populate: ['mare'], orderBy: { createdAt: 'desc', id: 'desc' } });
    },

    async get(em: EntityManager, user: AuthUser, id: string) {
      return detailView(em, await loadOwnGestation(em, user, id));
    },

    /** Corrects the cover/ovulation dates, options, vet or notes; a new anchor or options reschedule the workflow's reminders. */
    async correct(em: EntityManager, user: AuthUser, id: string, body: z.output<typeof UpdateGestationBody>) {
      const change = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, id);
        assertTracking(p.status);
        const before = anchorOf(p);
        const optionsBefore = JSON.stringify(p.options);
        if (body.coverDate) p.coverDates = [body.coverDate];
        if (body.coverDates) p.coverDates = [...new Set(body.coverDates)].sort();
        if (body.ovulationDate !== undefined) p.ovulationDate = body.ovulationDate;
        const ovulation = toDateString(p.ovulationDate);
        if (ovulation && !p.coverDates.some((c) => Math.abs(Date.parse(c) - Date.parse(ovulation)) <= 10 * 86_400_000)) {
          throw fieldError('ovulationDate', 'must be within 10 days of a cover date');
        }
        if (body.options) p.options = { ...p.options, ...body.options };
        if (body.vet?.name !== undefined) p.vetName = body.vet.name;
        if (body.vet?.contact !== undefined) p.vetContact = body.vet.contact;
        if (body.notes !== undefined) p.notes = body.notes;
        const after = anchorOf(p);
        p.expectedFoalingDate = expectedFoalingDate({ ...after, previousGestationDays: p.previousGestationDays });
        await tx.flush();
        return { anchor: after.anchorDate !== before.anchorDate || after.anchor !== before.anchor ? after : null, options: JSON.stringify(p.options) !== optionsBefore ? p.options : null };
      });
      // Committed: wake the workflow (it re-reads the gestation).
      if (change.anchor) await wakeWorkflow(id, coverDateCorrectedSignal, change.anchor);
      if (change.options) await wakeWorkflow(id, remindersChangedSignal, { options: change.options });
      return freshDetail(em, user, id);
    },

    /** A vet check: negative ends the tracking, twins flags it, positive confirms. */
    async recordCheck(em: EntityManager, user: AuthUser, id: string, body: z.output<typeof RecordCheckBody>) {
      const checkId = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, id);
        const transition = checkRecorded(p.status, body.result, body.date, new Date());
        assertNotBeforeCover(p, 'date', body.date, 'a check');
        const check = tx.create(GestationCheck, { gestation: p.id, kind: body.kind, date: body.date, result: body.result, notes: body.notes ?? null, recordedById: user.id });
        tx.assign(p, transition);
        await tx.flush();
        return check.id;
      });
      await wakeWorkflow(id, checkRecordedSignal, { checkId, kind: body.kind, date: body.date, result: body.result });
      return freshDetail(em, user, id);
    },

    /** The loss of the gestation (ends the tracking). */
    async recordLoss(em: EntityManager, user: AuthUser, id: string, body: z.output<typeof RecordLossBody>) {
      await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, id);
        const transition = gestationLost(p.status, body.date, new Date());
        assertNotBeforeCover(p, 'date', body.date, 'a loss');
        tx.assign(p, { ...transition, notes: appendNotes(p.notes, body.notes) });
        await tx.flush();
      });
      await wakeWorkflow(id, gestationLostSignal, { date: body.date });
      return freshDetail(em, user, id);
    },

    /** The foaling: creates the foal's horse record (dam and sire set) and ends the tracking. */
    async recordFoaling(em: EntityManager, user: AuthUser, id: string, body: z.output<typeof RecordFoalingBody>) {
      const foalId = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, id);
        const transition = gestationFoaled(p.status, body.date, new Date());
        assertNotBeforeCover(p, 'date', body.date, 'a foaling');
        const foal = tx.create(Horse, {
          organization: p.organization.id,
          name: body.foal.name,
          gender: foalGender(body.foal.sex),
          color: body.foal.color ?? null,
          birthDate: body.date,
          damId: p.mare.id,
          damName: p.mare.name,
          sireId: p.stallionId ?? null,
          sireName: p.stallionId ? null : (p.stallionName ?? null),
          images: [],
          createdById: user.id,
        });
        tx.assign(p, { ...transition, foalId: foal.id, notes: appendNotes(p.notes, body.notes) });
        await tx.flush();
        return foal.id;
      });
      await wakeWorkflow(id, foaledSignal, { date: body.date, foalId });
      const read = em.fork();
      const foal = await read.findOneOrFail(Horse, { id: foalId });
      return { gestation: await detailView(read, await loadOwnGestation(read, user, id)), foal };
    },
  };
}
