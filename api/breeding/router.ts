import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FilterQuery } from '@mikro-orm/core';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { Horse, Pregnancy, PregnancyCheck, ReminderLog, ReminderPreferences } from '../../entities';
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
  buildTimeline,
  CHECK_MILESTONE,
  expectedFoalingDate,
  foalGender,
  gestationMilestones,
  isActiveStatus,
  planAnchor,
  reminderDecision,
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
   * Signals the pregnancy's workflow. Called inside the request's transaction, so a
   * failed signal rolls the change back. A workflow that no longer exists (terminated by
   * ops) does not block the user: the change is saved, there is just nothing to wake.
   */
  async function signal<A extends unknown[]>(pregnancyId: string, def: SignalDefinition<A>, ...args: A): Promise<void> {
    const c = await client();
    try {
      await c.workflow.getHandle(gestationWorkflowId(pregnancyId)).signal(def, ...args);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        deps.logger.warn({ pregnancyId, signal: def.name }, 'gestation workflow not found; change saved without a signal');
        return;
      }
      throw temporalUnavailable(err);
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
    const milestones = gestationMilestones(plan);
    const logs = await em.find(ReminderLog, { pregnancyId: p.id });
    const checks = await em.find(PregnancyCheck, { pregnancy: p.id });
    const sent = Object.fromEntries(logs.map((l) => [l.milestoneId, l.sentAt.toISOString()]));
    const done = checks.filter((c) => c.result !== 'negative').map((c) => CHECK_MILESTONE[c.kind]).filter((m): m is string => !!m);
    if (p.status === 'foaled') done.push('expected-foaling');
    const until = p.endedAt ? p.endedAt.getTime() : Date.now();
    const missed = milestones.filter((m) => !sent[m.id] && reminderDecision(m, until) !== 'wait').map((m) => m.id);
    return {
      source: 'database' as const,
      anchorDate: anchor.anchorDate,
      anchor: anchor.anchor,
      leadDays: prefs.leadDays,
      expectedFoalingDate: expectedFoalingDate(plan),
      milestones: buildTimeline(milestones, { sent, done, missed, failed: [], ended: !isActiveStatus(p.status) }),
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
        // Best effort: the preferences are saved; a workflow that misses this keeps its old lead time.
        for (const p of active) {
          await signal(p.id, remindersChangedSignal, { leadDays: body.leadDays }).catch((err) =>
            deps.logger.warn({ pregnancyId: p.id, err: (err as Error).message }, 'could not tell the gestation workflow about the new lead time'),
          );
        }
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
      const running = await em.findOne(Pregnancy, { mare: mare.id, status: { $in: [...ACTIVE_PREGNANCY_STATUSES] } });
      if (running) throw new HttpError(409, `${mare.name} already has a pregnancy being tracked (${running.id})`, [{ location: 'body', field: 'mareId', message: 'already has a pregnancy being tracked' }]);

      const prefs = await reminderPreferencesOf(em, user.id, deps.config.REMINDER_LEAD_DAYS);
      const coverDates = [...new Set(body.coverDates)].sort();
      const anchor = planAnchor(coverDates, body.ovulationDate);
      const options: GestationOptions = body.options ?? {};
      const previousGestationDays = body.previousGestationDays ?? [];
      const c = await client();

      const pregnancy = await em.transactional(async (tx) => {
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
        const input: GestationInput = { pregnancyId: p.id, userId: user.id, ...anchor, leadDays: prefs.leadDays, options, previousGestationDays };
        try {
          // Inside the transaction: if Temporal refuses, the row is rolled back (no pregnancy without a workflow).
          await c.workflow.start<typeof gestationTracking>('gestationTracking', {
            taskQueue: TaskQueue.reminders,
            workflowId: gestationWorkflowId(p.id),
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [
              { key: UserIdKey, value: user.id },
              { key: HorseIdKey, value: mare.id },
              { key: PregnancyIdKey, value: p.id },
            ],
          });
        } catch (err) {
          throw temporalUnavailable(err);
        }
        return p;
      });
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
      errors: [404, 409, 503],
    },
    async ({ params, body, em, user }) => {
      await em.transactional(async (tx) => {
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
        if (after.anchorDate !== before.anchorDate || after.anchor !== before.anchor) await signal(p.id, coverDateCorrectedSignal, after);
        if (JSON.stringify(p.options) !== optionsBefore) await signal(p.id, remindersChangedSignal, { options: p.options });
      });
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
      errors: [404, 409, 503],
    },
    async ({ params, body, em, user }) => {
      await em.transactional(async (tx) => {
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
        await signal(p.id, checkRecordedSignal, { checkId: check.id, kind: body.kind, date: body.date, result: body.result });
      });
      return detailView(em.fork(), await loadPregnancy(em.fork(), user, params.id));
    },
  );

  r.post(
    '/pregnancies/:id/loss',
    { summary: 'Record the loss of the pregnancy (ends the tracking)', params: IdParams, body: RecordLossBody, response: PregnancyDetailView, errors: [404, 409, 503] },
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
        await signal(p.id, pregnancyLostSignal, { date: body.date });
      });
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
      errors: [404, 409, 503],
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
        await signal(p.id, foaledSignal, { date: body.date, foalId: foal.id });
        return foal.id;
      });
      const read = em.fork();
      const foal = await read.findOneOrFail(Horse, { id: foalId });
      return { pregnancy: await detailView(read, await loadPregnancy(read, user, params.id)), foal: horseView(foal) };
    },
  );

  return router;
}
