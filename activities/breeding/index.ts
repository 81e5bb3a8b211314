import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { Pregnancy, ReminderLog, ReminderPreferences } from '../../entities';
import { createNotifyActivities } from '../notify';
import {
  gestationReminderMessage,
  isActiveStatus,
  twinsAlertMessage,
  type Milestone,
  type PregnancyStatus,
} from '../../domain/gestation';

export interface ReminderChannels {
  leadDays: number;
  email: boolean;
  inApp: boolean;
}

/** A user's reminder preferences, or the defaults (REMINDER_LEAD_DAYS, email and in-app). */
export async function reminderPreferencesOf(em: EntityManager, userId: string, defaultLeadDays: number): Promise<ReminderChannels> {
  const prefs = await em.findOne(ReminderPreferences, { userId });
  return prefs ? { leadDays: prefs.leadDays, email: prefs.email, inApp: prefs.inApp } : { leadDays: defaultLeadDays, email: true, inApp: true };
}

export const gestationReminderKey = (pregnancyId: string, milestoneId: string) => `gestation:${pregnancyId}:${milestoneId}`;

export interface ReminderRequest {
  pregnancyId: string;
  userId: string;
  milestone: Pick<Milestone, 'id' | 'title' | 'description' | 'kind' | 'dueDate'>;
}
export type ReminderOutcome =
  | { outcome: 'sent' | 'already-sent'; sentAt: string; channels: string[] }
  /** The pregnancy ended in the database (the signal may still be on its way): nothing sent. */
  | { outcome: 'ended'; status: PregnancyStatus };

/**
 * Breeding activities. Every send is keyed `gestation:<pregnancyId>:<milestoneId>`: the
 * email outbox, the in-app notification and the ReminderLog row are unique by it, so a
 * retried or replayed send never reaches the user twice.
 */
export function createBreedingActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger; config: Config }) {
  const { orm, logger, config } = deps;
  const notify = createNotifyActivities(deps);

  async function loadPregnancy(em: EntityManager, pregnancyId: string) {
    const pregnancy = await em.findOne(Pregnancy, { id: pregnancyId }, { populate: ['mare'] });
    // Retryable: the API starts the workflow inside the transaction that inserts the row.
    if (!pregnancy) throw new Error(`pregnancy ${pregnancyId} not found (not committed yet?)`);
    return pregnancy;
  }

  return {
    async sendGestationReminder(req: ReminderRequest): Promise<ReminderOutcome> {
      const em = orm.em.fork();
      const pregnancy = await loadPregnancy(em, req.pregnancyId);
      const previous = await em.findOne(ReminderLog, { pregnancyId: req.pregnancyId, milestoneId: req.milestone.id });
      if (previous) return { outcome: 'already-sent', sentAt: previous.sentAt.toISOString(), channels: previous.channels };
      if (!isActiveStatus(pregnancy.status)) return { outcome: 'ended', status: pregnancy.status };

      const prefs = await reminderPreferencesOf(em, req.userId, config.REMINDER_LEAD_DAYS);
      const key = gestationReminderKey(req.pregnancyId, req.milestone.id);
      const message = gestationReminderMessage(req.milestone, pregnancy.mare.name);
      const channels: string[] = [];
      if (prefs.email) {
        await notify.sendEmail({ key, userId: req.userId, ...message });
        channels.push('email');
      }
      if (prefs.inApp) {
        await notify.notifyInApp({
          key,
          userId: req.userId,
          kind: 'gestation_reminder',
          title: message.subject,
          body: req.milestone.description,
          data: { pregnancyId: req.pregnancyId, mareId: pregnancy.mare.id, milestoneId: req.milestone.id, dueDate: req.milestone.dueDate },
        });
        channels.push('in_app');
      }
      try {
        const log = em.create(ReminderLog, {
          pregnancyId: req.pregnancyId,
          milestoneId: req.milestone.id,
          title: req.milestone.title,
          dueDate: req.milestone.dueDate as never,
          sentAt: new Date(),
          channels,
        });
        await em.flush();
        logger.info({ key, channels }, 'gestation reminder sent');
        return { outcome: 'sent', sentAt: log.sentAt.toISOString(), channels };
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const row = await orm.em.fork().findOneOrFail(ReminderLog, { pregnancyId: req.pregnancyId, milestoneId: req.milestone.id });
        return { outcome: 'already-sent', sentAt: row.sentAt.toISOString(), channels: row.channels };
      }
    },

    /** Twins seen on a scan: tell the owner at once (email + in-app, whatever the preferences). */
    async sendGestationAlert(req: { pregnancyId: string; userId: string; kind: 'twins'; checkId: string; date: string }): Promise<{ sent: true }> {
      const em = orm.em.fork();
      const pregnancy = await loadPregnancy(em, req.pregnancyId);
      const key = `gestation:${req.pregnancyId}:twins:${req.checkId}`;
      const message = twinsAlertMessage(pregnancy.mare.name, req.date);
      await notify.sendEmail({ key, userId: req.userId, ...message });
      await notify.notifyInApp({
        key,
        userId: req.userId,
        kind: 'gestation_alert',
        title: message.subject,
        body: message.text,
        data: { pregnancyId: req.pregnancyId, mareId: pregnancy.mare.id, alert: 'twins', checkDate: req.date },
      });
      return { sent: true };
    },

    /**
     * Persists a status the workflow reached (the API usually wrote it already: then this
     * is a no-op). An ended pregnancy is never reopened.
     */
    async recordGestationStatus(req: { pregnancyId: string; status: PregnancyStatus; outcomeDate?: string | null }): Promise<{ changed: boolean }> {
      const em = orm.em.fork();
      const pregnancy = await em.findOne(Pregnancy, { id: req.pregnancyId });
      if (!pregnancy) return { changed: false };
      if (pregnancy.status === req.status || !isActiveStatus(pregnancy.status)) return { changed: false };
      pregnancy.status = req.status;
      if (!isActiveStatus(req.status)) {
        pregnancy.endedAt ??= new Date();
        if (req.outcomeDate) pregnancy.outcomeDate ??= req.outcomeDate as never;
      }
      await em.flush();
      return { changed: true };
    },
  };
}

export type BreedingActivities = ReturnType<typeof createBreedingActivities>;
