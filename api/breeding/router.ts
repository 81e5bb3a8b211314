import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode, UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { Horse, Pregnancy, PregnancyCheck, ReminderLog, ReminderPreferences } from '../../entities';
import { PREGNANCY_MARE_ACTIVE_UNIQUE } from '../../entities/breeding';
import type { AppDeps } from '../deps';
import type { MountContext } from '../routes';
import type { AuthUser } from '../auth/types';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { horseView, loadOwnedHorse, toDateString } from '../horses/access';
import { HorseView } from '../horses/schemas';
import { reminderPreferencesOf } from '../../activities/breeding';
import {
  ACTIVE_PREGNANCY_STATUSES,
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
import { TaskQueue } from '../../workflows/queues';
import { HorseIdKey, PregnancyIdKey, UserIdKey } from '../../workflows/search-attributes';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  pregnancyLostSignal,
  remindersChangedSignal,
  timelineQuery,
  type GestationInput,
} from '../../workflows/breeding/messages';
import type { gestationTracking } from '../../workflows/breeding/gestationTracking';
import {
  CreatePregnancyBody,
  ListPregnanciesQuery,
  PregnancyDetailView,
  PregnancyView,
  RecordCheckBody,
  RecordFoalingBody,
  RecordLossBody,
  ReminderPreferencesBody,
  ReminderPreferencesView,
  UpdatePregnancyBody,
} from './schemas';

const fieldError = (field: string, message: string, status = 400) =>
  new HttpError(status, `Invalid body.${field}: ${message}`, [{ location: 'body', field, message }]);

const temporalUnavailable = (err: unknown) =>
  new HttpError(503, `The reminder service (Temporal) is unavailable, nothing was changed: ${(err as Error).message}`);

function pregnancyView(p: Pregnancy) {
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

const anchorOf = (p: Pregnancy) => planAnchor(p.coverDates, toDateString(p.ovulationDate));
const earliestCover = (p: Pregnancy) => [...p.coverDates].sort()[0];

/** A pregnancy of one of the caller's organizations, else 404. */
async function loadPregnancy(em: EntityManager, user: AuthUser, id: string): Promise<Pregnancy> {
  const p = await em.findOne(Pregnancy, { id, organization: { $in: memberOrgIds(user) } }, { populate: ['mare'] });
  if (!p) throw new HttpError(404, `Pregnancy ${id} not found`);
  return p;
}

function assertActive(p: Pregnancy) {
  if (!isActiveStatus(p.status)) throw new HttpError(409, `This pregnancy's tracking has ended (status ${p.status}); nothing was changed`);
}

/** An event (check, loss, foaling) cannot happen before the mare was covered. */
function assertNotBeforeCover(p: Pregnancy, field: string, date: string, what: string) {
  const first = earliestCover(p);
  if (date < first) throw fieldError(field, `${what} must not be before the cover date (${first})`);
}

export function createBreedingRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/breeding', tag: 'breeding', authenticate: ctx.authenticate });

  async function client(): Promise<Client> {
    try {
      return await deps.temporal.client();
    } catch (err) {
      throw temporalUnavailable(err);
    }
  }

  /**
   * Wakes the pregnancy's workflow AFTER the change is committed. The database is the
   * source of truth and the workflow re-reads it when it wakes, so a signal is only a
   * wake-up: if it cannot be delivered (Temporal down, workflow gone) the change stands,
   * the failure is logged, and the workflow catches up at its next wake-up (at most a week).
   */
  async function wakeWorkflow<A extends unknown[]>(pregnancyId: string, def: SignalDefinition<A>, ...args: A): Promise<void> {
    try {
      const c = await deps.temporal.client();
      await c.workflow.getHandle(gestationWorkflowId(pregnancyId)).signal(def, ...args);
    } catch (err) {
      const level = err instanceof WorkflowNotFoundError ? 'info' : 'warn';
      deps.logger[level]({ pregnancyId, signal: def.name, err: (err as Error).message }, 'could not signal the gestation workflow; the change is saved and the workflow will catch up when it next wakes');
    }
  }

  /** The timeline: live from the running workflow, else rebuilt from the database. */
  async function timelineOf(em: EntityManager, p: Pregnancy) {
    if (isActiveStatus(p.status)) {
      try {
        const c = await deps.temporal.client();
        const live = await c.workflow.getHandle(gestationWorkflowId(p.id)).query(timelineQuery);
        const { pregnancyId: _id, status: _status, ...rest } = live;
        return { source: 'workflow' as const, ...rest };
      } catch (err) {
        deps.logger.warn({ pregnancyId: p.id, err: (err as Error).message }, 'timeline query failed; rebuilding it from the database');
      }
    }
    const prefs = await reminderPreferencesOf(em, p.createdById, deps.config.REMINDER_LEAD_DAYS);
    const anchor = anchorOf(p);
    const plan = { ...anchor, leadDays: prefs.leadDays, options: p.options, previousGestationDays: p.previousGestationDays };
    const logs = await em.find(ReminderLog, { pregnancyId: p.id });
    const checks = await em.find(PregnancyCheck, { pregnancy: p.id });
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

  async function detailView(em: EntityManager, p: Pregnancy) {
    const checks = await em.find(PregnancyCheck, { pregnancy: p.id }, { orderBy: { date: 'asc', createdAt: 'asc' } });
    const reminders = await em.find(ReminderLog, { pregnancyId: p.id }, { orderBy: { sentAt: 'asc' } });
    return {
      ...pregnancyView(p),
      checks: checks.map((c) => ({ id: c.id, kind: c.kind, date: toDateString(c.date)!, result: c.result, notes: c.notes ?? null, createdAt: c.createdAt })),
      reminders: reminders.map((l) => ({ milestoneId: l.milestoneId, title: l.title, dueDate: toDateString(l.dueDate)!, sentAt: l.sentAt, channels: l.channels })),
      timeline: await timelineOf(em, p),
    };
  }

  // --- reminder preferences (per user) ---

  r.get('/preferences', { summary: 'My gestation reminder preferences (defaults when never set)', response: ReminderPreferencesView }, async ({ em, user }) => {
    const row = await em.findOne(ReminderPreferences, { userId: user.id });
    const prefs = await reminderPreferencesOf(em, user.id, deps.config.REMINDER_LEAD_DAYS);
    return { ...prefs, isDefault: !row };
  });

  r.put(
    '/preferences',
    {
      summary: 'Set my reminder lead time and channels',
      description: 'A new lead time reschedules the reminders of every pregnancy I am tracking; channels apply to the next reminder sent.',
      body: ReminderPreferencesBody,
      response: ReminderPreferencesView,
    },
    async ({ body, em, user }) => {
      const row = await em.findOne(ReminderPreferences, { userId: user.id });
      const previousLead = row?.leadDays ?? deps.config.REMINDER_LEAD_DAYS;
      if (row) em.assign(row, body);
      else em.create(ReminderPreferences, { userId: user.id, ...body });
      await em.flush();
      if (body.leadDays !== previousLead) {
        const active = await em.find(Pregnancy, { createdById: user.id, status: { $in: [...ACTIVE_PREGNANCY_STATUSES] } }, { fields: ['id'] });
        // Wake-ups only: each workflow reads the lead time from the database.
        for (const p of active) await wakeWorkflow(p.id, remindersChangedSignal, { leadDays: body.leadDays });
      }
      return { ...body, isDefault: false };
    },
  );

  // --- pregnancies ---

  r.post(
    '/pregnancies',
    {
      summary: 'Register a cover/insemination and start tracking the pregnancy',
      description: 'Starts the gestationTracking workflow, which reminds the caller ahead of every milestone (vet checks, vaccinations, foaling preparation, overdue).',
      body: CreatePregnancyBody,
      status: 201,
      response: PregnancyDetailView,
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
        new HttpError(409, `${mare.name} already has a pregnancy being tracked${id ? ` (${id})` : ''}`, [{ location: 'body', field: 'mareId', message: 'already has a pregnancy being tracked' }]);

      const prefs = await reminderPreferencesOf(em, user.id, deps.config.REMINDER_LEAD_DAYS);
      const coverDates = [...new Set(body.coverDates)].sort();
      const anchor = planAnchor(coverDates, body.ovulationDate);
      const options: GestationOptions = body.options ?? {};
      const previousGestationDays = body.previousGestationDays ?? [];

      let pregnancy: Pregnancy;
      try {
        pregnancy = await em.transactional(async (tx) => {
          // Registrations for one mare are serialised on her row; the partial unique index
          // pregnancies_mare_active_unique is the backstop.
          await tx.lock(tx.getReference(Horse, mare.id), LockMode.PESSIMISTIC_WRITE);
          const running = await tx.findOne(Pregnancy, { mare: mare.id, status: { $in: [...ACTIVE_PREGNANCY_STATUSES] } });
          if (running) throw alreadyTracked(running.id);
          const p = tx.create(Pregnancy, {
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
        if (err instanceof UniqueConstraintViolationException && err.message.includes(PREGNANCY_MARE_ACTIVE_UNIQUE)) throw alreadyTracked();
        throw err;
      }

      // Committed: now start the workflow (it reads the row, so the row must exist first).
      // If Temporal refuses, the row is removed again and the answer is 503 (nothing
      // changed). Should the start have happened after all (a timeout after the server
      // accepted it), the workflow finds no row on its first read and ends quietly.
      const input: GestationInput = { pregnancyId: pregnancy.id, userId: user.id, ...anchor, leadDays: prefs.leadDays, options, previousGestationDays };
      try {
        const c = await client();
        await c.workflow.start<typeof gestationTracking>('gestationTracking', {
          taskQueue: TaskQueue.reminders,
          workflowId: gestationWorkflowId(pregnancy.id),
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: UserIdKey, value: user.id },
            { key: HorseIdKey, value: mare.id },
            { key: PregnancyIdKey, value: pregnancy.id },
          ],
        });
      } catch (err) {
        try {
          await em.fork().nativeDelete(Pregnancy, { id: pregnancy.id });
        } catch (cleanup) {
          deps.logger.error({ pregnancyId: pregnancy.id, err: (cleanup as Error).message }, 'gestation workflow did not start and the pregnancy row could not be removed; delete it or start its workflow by hand');
        }
        throw err instanceof HttpError ? err : temporalUnavailable(err);
      }
      const fresh = await em.fork().findOneOrFail(Pregnancy, { id: pregnancy.id }, { populate: ['mare'] });
      return detailView(em, fresh);
    },
  );

  r.get('/pregnancies', { summary: "My organizations' pregnancies, newest first", query: ListPregnanciesQuery, response: paginated(PregnancyView) }, async ({ query, em, user }) => {
    const where: FilterQuery<Pregnancy> = { organization: { $in: memberOrgIds(user) } };
    if (query.status) where.status = query.status;
    else if (query.active === 'true') where.status = { $in: [...ACTIVE_PREGNANCY_STATUSES] };
    else if (query.active === 'false') where.status = { $nin: [...ACTIVE_PREGNANCY_STATUSES] };
    if (query.mareId) where.mare = query.mareId;
    const [rows, total] = await em.findAndCount(Pregnancy, where, {
      populate: ['mare'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: query.limit,
      offset: (query.page - 1) * query.limit,
    });
    return { items: rows.map(pregnancyView), total, page: query.page, limit: query.limit };
  });

  r.get('/pregnancies/:id', { summary: 'One pregnancy with its checks, reminders sent and timeline', params: IdParams, response: PregnancyDetailView, errors: [404] }, async ({ params, em, user }) => {
    return detailView(em, await loadPregnancy(em, user, params.id));
  });

  r.patch(
    '/pregnancies/:id',
    {
      summary: 'Correct the cover/ovulation date (reschedules every future reminder), switch optional milestones, edit the vet or notes',
      params: IdParams,
      body: UpdatePregnancyBody,
      response: PregnancyDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const change = await em.transactional(async (tx) => {
        const p = await loadPregnancy(tx, user, params.id);
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
      // Committed: wake the workflow (it re-reads the pregnancy).
      if (change.anchor) await wakeWorkflow(params.id, coverDateCorrectedSignal, change.anchor);
      if (change.options) await wakeWorkflow(params.id, remindersChangedSignal, { options: change.options });
      return detailView(em.fork(), await loadPregnancy(em.fork(), user, params.id));
    },
  );

  r.post(
    '/pregnancies/:id/checks',
    {
      summary: 'Record a vet check: negative ends the tracking, twins flags it and alerts the owner, positive confirms',
      params: IdParams,
      body: RecordCheckBody,
      status: 201,
      response: PregnancyDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const checkId = await em.transactional(async (tx) => {
        const p = await loadPregnancy(tx, user, params.id);
        assertActive(p);
        assertNotBeforeCover(p, 'date', body.date, 'a check');
        const check = tx.create(PregnancyCheck, { pregnancy: p.id, kind: body.kind, date: body.date as never, result: body.result, notes: body.notes ?? null, recordedById: user.id } as never);
        p.status = statusAfterCheck(p.status, body.result);
        if (p.status === 'not_pregnant') {
          p.endedAt = new Date();
          p.outcomeDate = body.date as never;
        }
        await tx.flush();
        return check.id;
      });
      await wakeWorkflow(params.id, checkRecordedSignal, { checkId, kind: body.kind, date: body.date, result: body.result });
      return detailView(em.fork(), await loadPregnancy(em.fork(), user, params.id));
    },
  );

  r.post(
    '/pregnancies/:id/loss',
    { summary: 'Record the loss of the pregnancy (ends the tracking)', params: IdParams, body: RecordLossBody, response: PregnancyDetailView, errors: [404, 409] },
    async ({ params, body, em, user }) => {
      await em.transactional(async (tx) => {
        const p = await loadPregnancy(tx, user, params.id);
        assertActive(p);
        assertNotBeforeCover(p, 'date', body.date, 'a loss');
        p.status = 'lost';
        p.outcomeDate = body.date as never;
        p.endedAt = new Date();
        if (body.notes) p.notes = p.notes ? `${p.notes}\n${body.notes}` : body.notes;
        await tx.flush();
      });
      await wakeWorkflow(params.id, pregnancyLostSignal, { date: body.date });
      return detailView(em.fork(), await loadPregnancy(em.fork(), user, params.id));
    },
  );

  r.post(
    '/pregnancies/:id/foaling',
    {
      summary: "Record the foaling: creates the foal's horse record (dam and sire set) and ends the tracking",
      description: 'A filly is recorded as a mare, a colt as a stallion.',
      params: IdParams,
      body: RecordFoalingBody,
      status: 201,
      response: z.object({ pregnancy: PregnancyDetailView, foal: HorseView }),
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const foalId = await em.transactional(async (tx) => {
        const p = await loadPregnancy(tx, user, params.id);
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
      return { pregnancy: await detailView(read, await loadPregnancy(read, user, params.id)), foal: horseView(foal) };
    },
  );

  return router;
}
