import { Router } from 'express';
import { Gestation, ReminderPreferences } from '../../entities';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder } from '../http/route';
import { reminderPreferencesOf } from '../../entities/gestation';
import { ACTIVE_GESTATION_STATUSES } from '../../domain/gestation';
import { remindersChangedSignal } from '../../workflows/gestation/messages';
import { ReminderPreferencesBody, ReminderPreferencesView } from '../gestation/schemas';
import { wakeGestationWorkflow } from '../gestation/wake';
import { createHealthService } from '../health/service';

/**
 * How a user wants reminders (lead time, channels). Lives under notifications because it
 * is about how we reach the user; gestation and health book reminders read it.
 */
export function createNotificationPreferencesRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const health = createHealthService(deps);
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/notifications/preferences', tag: 'notifications', authenticate: ctx.authenticate });

  r.get('/', { summary: 'My reminder preferences (defaults when never set)', response: ReminderPreferencesView }, async ({ em, user }) => {
    const row = await em.findOne(ReminderPreferences, { userId: user.id });
    const prefs = await reminderPreferencesOf(em, user.id, deps.config.REMINDER_LEAD_DAYS);
    return { ...prefs, isDefault: !row };
  });

  r.put(
    '/',
    {
      summary: 'Set my reminder lead time and channels',
      description: 'A new lead time reschedules the reminders of every gestation I am tracking and of the health book of every horse in my organizations; channels apply to the next reminder sent.',
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
        const active = await em.find(Gestation, { createdById: user.id, status: { $in: [...ACTIVE_GESTATION_STATUSES] } }, { fields: ['id'] });
        // Wake-ups only: each workflow reads the lead time from the database.
        for (const g of active) await wakeGestationWorkflow(deps, g.id, remindersChangedSignal, { leadDays: body.leadDays });
        // The health book's reminders use the same lead time.
        await health.remindersChanged(em, user, { leadDays: body.leadDays });
      }
      return { ...body, isDefault: false };
    },
  );

  return router;
}
