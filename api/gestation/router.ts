import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode, UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { Horse, Gestation, GestationCheck, ReminderLog } from '../../entities';
import { GESTATION_MARE_ACTIVE_UNIQUE } from '../../entities/gestation';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { wakeGestationWorkflow } from './wake';
import type { AuthUser } from '../accounts/types';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { horseView, loadOwnedHorse, toDateString } from '../horses/access';
import { HorseView } from '../horses/schemas';
import { reminderPreferencesOf } from '../../entities/gestation';
import {
  ACTIVE_GESTATION_STATUSES,
  doneMilestones,
  expectedFoalingDate,
  foalGender,
  gestationMilestones,
  isActiveStatus,
  planAnchor,
  recordedTimeline,
  statusAfterCheck,
  type GestationOptions,
} from '../../domain/gestation';
import { gestationWorkflowId } from '../../workflows/ids';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  gestationLostSignal,
  remindersChangedSignal,
  type GestationInput,
} from '../../workflows/gestation/messages';
import { queryGestationTimeline, startGestationTracking } from '../../workflows/gestation/client';
import {
  CreateGestationBody,
  ListGestationsQuery,
  GestationDetailView,
  GestationView,
  RecordCheckBody,
  RecordFoalingBody,
  RecordLossBody,
  UpdateGestationBody,
} from './schemas';

const fieldError = (field: string, message: string, status = 400) =>
  new HttpError(status, `Invalid body.${field}: ${message}`, [{ location: 'body', field, message }]);

/** The cause goes to the log with the error (the handler logs every 5xx); the client learns only that it may retry. */
const temporalUnavailable = (err: unknown) =>
  Object.assign(new HttpError(503, 'The reminder service is unavailable right now, nothing was changed; retry later'), { cause: err });

function gestationView(p: Gestation) {
  return {
    id: p.id,
    organizationId: p.organization.id,
    mare: { id: p.mare.id, name: p.mare.name },
    stallionId: p.stallionId ?? null,
    stallionName: p.stallionName ?? null,
    coverDates: p.coverDates,
    ovulationDate: toDateString(p.ovulationDate),
    method: p.method,
    vet: { name: p.vetName ?? null, contact: p.vetContact ?? null },
    status: p.status,
    expectedFoalingDate: toDateString(p.expectedFoalingDate)!,
    options: p.options,
    previousGestationDays: p.previousGestationDays,
    notes: p.notes ?? null,
    outcomeDate: toDateString(p.outcomeDate),
    foalId: p.foalId ?? null,
    endedAt: p.endedAt ?? null,
    workflowId: gestationWorkflowId(p.id),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

const anchorOf = (p: Gestation) => planAnchor(p.coverDates, toDateString(p.ovulationDate));
const earliestCover = (p: Gestation) => [...p.coverDates].sort()[0];

/** A gestation of one of the caller's organizations, else 404. */
async function loadOwnGestation(em: EntityManager, user: AuthUser, id: string): Promise<Gestation> {
  const p = await em.findOne(Gestation, { id, organization: { $in: memberOrgIds(user) } }, { populate: ['mare'] });
  if (!p) throw new HttpError(404, `Gestation ${id} not found`);
  return p;
}

/**
 * The same, locked for the rest of the transaction: every transition (correction, check, loss,
 * foaling) reads the status after any concurrent one committed, so two concurrent foalings
 * cannot both see an active gestation and create two foals.
 */
async function lockOwnGestation(tx: EntityManager, user: AuthUser, id: string): Promise<Gestation> {
  const p = await tx.findOne(Gestation, { id, organization: { $in: memberOrgIds(user) } }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  if (!p) throw new HttpError(404, `Gestation ${id} not found`);
  await tx.populate(p, ['mare']);
  return p;
}

function assertActive(p: Gestation) {
  if (!isActiveStatus(p.status)) throw new HttpError(409, `This gestation's tracking has ended (status ${p.status}); nothing was changed`);
}

/** An event (check, loss, foaling) cannot happen before the mare was covered. */
function assertNotBeforeCover(p: Gestation, field: string, date: string, what: string) {
  const first = earliestCover(p);
  if (date < first) throw fieldError(field, `${what} must not be before the cover date (${first})`);
}

export function createGestationRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/gestations', tag: 'gestation', authenticate: ctx.authenticate });

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
    const plan = { ...anchor, leadDays: prefs.leadDays, options: p.options, previousGestationDays: p.previousGestationDays, reminderTimeUtc: deps.config.REMINDER_TIME_UTC };
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

  async function detailView(em: EntityManager, p: Gestation) {
    const checks = await em.find(GestationCheck, { gestation: p.id }, { orderBy: { date: 'asc', createdAt: 'asc' } });
    const reminders = await em.find(ReminderLog, { gestationId: p.id }, { orderBy: { sentAt: 'asc' } });
    return {
      ...gestationView(p),
      checks: checks.map((c) => ({ id: c.id, kind: c.kind, date: toDateString(c.date)!, result: c.result, notes: c.notes ?? null, createdAt: c.createdAt })),
      reminders: reminders.map((l) => ({ milestoneId: l.milestoneId, title: l.title, dueDate: toDateString(l.dueDate)!, sentAt: l.sentAt, channels: l.channels })),
      timeline: await timelineOf(em, p),
    };
  }

  // --- gestations ---

  r.post(
    '/',
    {
      summary: 'Register a cover/insemination and start tracking the gestation',
      description: 'Starts the gestationTracking workflow, which reminds the caller ahead of every milestone (vet checks, vaccinations, foaling preparation, overdue).',
      body: CreateGestationBody,
      status: 201,
      response: GestationDetailView,
      errors: [404, 409, 503],
    },
    async ({ body, em, user }) => {
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
          // Registrations for one mare are serialised on her row; the partial unique index
          // gestations_mare_active_unique is the backstop.
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
            ovulationDate: (body.ovulationDate ?? null) as never,
            method: body.method,
            vetName: body.vet?.name ?? null,
            vetContact: body.vet?.contact ?? null,
            status: 'tracking',
            expectedFoalingDate: expectedFoalingDate({ ...anchor, previousGestationDays }) as never,
            options,
            previousGestationDays,
            notes: body.notes ?? null,
          } as never);
          await tx.flush();
          return p;
        });
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException && err.message.includes(GESTATION_MARE_ACTIVE_UNIQUE)) throw alreadyTracked();
        throw err;
      }

      // Committed: now start the workflow (it reads the row, so the row must exist first).
      // If Temporal refuses, the row is removed again and the answer is 503 (nothing
      // changed). Should the start have happened after all (a timeout after the server
      // accepted it), the workflow finds no row on its first read and ends quietly.
      const input: GestationInput = { gestationId: gestation.id, userId: user.id, ...anchor, leadDays: prefs.leadDays, options, previousGestationDays };
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
  );

  r.get('/', { summary: "My organizations' gestations, newest first", query: ListGestationsQuery, response: paginated(GestationView) }, async ({ query, em, user }) => {
    const where: FilterQuery<Gestation> = { organization: { $in: memberOrgIds(user) } };
    if (query.status) where.status = query.status;
    else if (query.active === 'true') where.status = { $in: [...ACTIVE_GESTATION_STATUSES] };
    else if (query.active === 'false') where.status = { $nin: [...ACTIVE_GESTATION_STATUSES] };
    if (query.mareId) where.mare = query.mareId;
    const [rows, total] = await em.findAndCount(Gestation, where, {
      populate: ['mare'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: query.limit,
      offset: (query.page - 1) * query.limit,
    });
    return { items: rows.map(gestationView), total, page: query.page, limit: query.limit };
  });

  r.get('/:id', { summary: 'One gestation with its checks, reminders sent and timeline', params: IdParams, response: GestationDetailView, errors: [404] }, async ({ params, em, user }) => {
    return detailView(em, await loadOwnGestation(em, user, params.id));
  });

  r.patch(
    '/:id',
    {
      summary: 'Correct the cover/ovulation date (reschedules every future reminder), switch optional milestones, edit the vet or notes',
      params: IdParams,
      body: UpdateGestationBody,
      response: GestationDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const change = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, params.id);
        assertActive(p);
        const before = anchorOf(p);
        const optionsBefore = JSON.stringify(p.options);
        if (body.coverDate) p.coverDates = [body.coverDate];
        if (body.coverDates) p.coverDates = [...new Set(body.coverDates)].sort();
        if (body.ovulationDate !== undefined) p.ovulationDate = body.ovulationDate as never;
        const ovulation = toDateString(p.ovulationDate);
        if (ovulation && !p.coverDates.some((c) => Math.abs(Date.parse(c) - Date.parse(ovulation)) <= 10 * 86_400_000)) {
          throw fieldError('ovulationDate', 'must be within 10 days of a cover date');
        }
        if (body.options) p.options = { ...p.options, ...body.options };
        if (body.vet?.name !== undefined) p.vetName = body.vet.name;
        if (body.vet?.contact !== undefined) p.vetContact = body.vet.contact;
        if (body.notes !== undefined) p.notes = body.notes;
        const after = anchorOf(p);
        p.expectedFoalingDate = expectedFoalingDate({ ...after, previousGestationDays: p.previousGestationDays }) as never;
        await tx.flush();
        return { anchor: after.anchorDate !== before.anchorDate || after.anchor !== before.anchor ? after : null, options: JSON.stringify(p.options) !== optionsBefore ? p.options : null };
      });
      // Committed: wake the workflow (it re-reads the gestation).
      if (change.anchor) await wakeWorkflow(params.id, coverDateCorrectedSignal, change.anchor);
      if (change.options) await wakeWorkflow(params.id, remindersChangedSignal, { options: change.options });
      return detailView(em.fork(), await loadOwnGestation(em.fork(), user, params.id));
    },
  );

  r.post(
    '/:id/checks',
    {
      summary: 'Record a vet check: negative ends the tracking, twins flags it and alerts the owner, positive confirms',
      params: IdParams,
      body: RecordCheckBody,
      status: 201,
      response: GestationDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const checkId = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, params.id);
        assertActive(p);
        assertNotBeforeCover(p, 'date', body.date, 'a check');
        const check = tx.create(GestationCheck, { gestation: p.id, kind: body.kind, date: body.date as never, result: body.result, notes: body.notes ?? null, recordedById: user.id } as never);
        p.status = statusAfterCheck(p.status, body.result);
        if (p.status === 'not_pregnant') {
          p.endedAt = new Date();
          p.outcomeDate = body.date as never;
        }
        await tx.flush();
        return check.id;
      });
      await wakeWorkflow(params.id, checkRecordedSignal, { checkId, kind: body.kind, date: body.date, result: body.result });
      return detailView(em.fork(), await loadOwnGestation(em.fork(), user, params.id));
    },
  );

  r.post(
    '/:id/loss',
    { summary: 'Record the loss of the gestation (ends the tracking)', params: IdParams, body: RecordLossBody, response: GestationDetailView, errors: [404, 409] },
    async ({ params, body, em, user }) => {
      await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, params.id);
        assertActive(p);
        assertNotBeforeCover(p, 'date', body.date, 'a loss');
        p.status = 'lost';
        p.outcomeDate = body.date as never;
        p.endedAt = new Date();
        if (body.notes) p.notes = p.notes ? `${p.notes}\n${body.notes}` : body.notes;
        await tx.flush();
      });
      await wakeWorkflow(params.id, gestationLostSignal, { date: body.date });
      return detailView(em.fork(), await loadOwnGestation(em.fork(), user, params.id));
    },
  );

  r.post(
    '/:id/foaling',
    {
      summary: "Record the foaling: creates the foal's horse record (dam and sire set) and ends the tracking",
      description: 'A filly is recorded as a mare, a colt as a stallion.',
      params: IdParams,
      body: RecordFoalingBody,
      status: 201,
      response: z.object({ gestation: GestationDetailView, foal: HorseView }),
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const foalId = await em.transactional(async (tx) => {
        const p = await lockOwnGestation(tx, user, params.id);
        assertActive(p);
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
        } as never);
        p.status = 'foaled';
        p.outcomeDate = body.date as never;
        p.endedAt = new Date();
        p.foalId = foal.id;
        if (body.notes) p.notes = p.notes ? `${p.notes}\n${body.notes}` : body.notes;
        await tx.flush();
        return foal.id;
      });
      await wakeWorkflow(params.id, foaledSignal, { date: body.date, foalId });
      const read = em.fork();
      const foal = await read.findOneOrFail(Horse, { id: foalId });
      return { gestation: await detailView(read, await loadOwnGestation(read, user, params.id)), foal: horseView(foal) };
    },
  );

  return router;
}
