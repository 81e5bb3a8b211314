import { ApplicationFailure } from '@temporalio/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { HealthPlanOverride, HealthRecord, HealthReminderLog, Horse, ReminderPreferences, dateColumn, planOverrides, recordFacts } from '../../entities';
import { createNotifyActivities } from '../notify';
import { ErrorType } from '../../domain/errors';
import { carePlan, dayOf, healthReminderMessage, reminderKey, reminderTimes, type CareItemKey, type ReminderItem, type ReminderStage } from '../../domain/health';
import { reminderClock } from '../../domain/reminder-window';
import { organizationOwners, reminderRecipients } from '../notify/recipients';
import { channelFailureText } from '../notify/channel-failure';

/**
 * What the reminder workflow plans from: every enabled item of the horse's plan that has a
 * due date, with the stages already sent for that due date and the lead time of its
 * recipients. `found: false` = the horse is gone; the workflow ends. No horse name: the
 * snapshot is an activity result, written to the workflow history (no user-typed text there).
 */
export type HealthReminderSnapshot =
  | { found: false }
  | {
      found: true;
      items: (ReminderItem & { leadDays: number })[];
      /** REMINDER_TIME_UTC (HH:MM) of the worker that read it; absent in older histories (08:00). */
      reminderTimeUtc?: string;
      /**
       * The horse's second in the reminder window (REMINDER_WINDOW_MINUTES of the worker that
       * read it, domain/reminder-window.ts): reminders and escalations go out at
       * reminderTimeUtc + this. Absent in histories written before the window existed (0).
       */
      reminderOffsetSeconds?: number;
    };

export interface HealthReminderRequest {
  horseId: string;
  key: CareItemKey;
  dueDate: string;
  stage: ReminderStage;
  /**
   * ISO instant (workflow time) at which the workflow found this send due, from its last
   * read of the database. The send re-checks it against the database as it is now: a
   * reminder whose lead time has since been shortened is not due yet ('replanned').
   */
  plannedAt: string;
}

/** What `loadHealthReminders` returns for a horse that exists. */
export type FoundHealthReminderSnapshot = Extract<HealthReminderSnapshot, { found: true }>;

/**
 * `snapshot`: the horse's plan as the send left it (read after its log row was written), the
 * same as `loadHealthReminders` would return now, so the workflow plans its next sleep from it
 * without scheduling that read (one activity and one workflow task less per wake-up). Absent
 * in histories written before sends returned it: the workflow then reads.
 */
export type HealthReminderOutcome =
  | { outcome: 'sent' | 'already-sent'; recipients: string[]; channels: string[]; snapshot?: FoundHealthReminderSnapshot }
  /** The horse is gone: nothing sent. */
  | { outcome: 'gone' }
  /** The item has another due date now (a record was added or edited), was switched off, or is not due yet with today's lead time: nothing sent. */
  | { outcome: 'replanned'; snapshot?: FoundHealthReminderSnapshot };

interface Prefs {
  leadDays: number;
  email: boolean;
  inApp: boolean;
}

async function preferences(em: EntityManager, userIds: readonly string[], defaultLeadDays: number): Promise<Map<string, Prefs>> {
  const rows = userIds.length ? await em.find(ReminderPreferences, { userId: { $in: [...userIds] } }) : [];
  const found = new Map(rows.map((r) => [r.userId, { leadDays: r.leadDays, email: r.email, inApp: r.inApp }]));
  return new Map(userIds.map((u) => [u, found.get(u) ?? { leadDays: defaultLeadDays, email: true, inApp: true }]));
}

/** Several recipients: the earliest reminder any of them asked for; none: the default lead time. */
const leadDaysOf = (recipients: readonly string[], prefs: Map<string, Prefs>, defaultLeadDays: number) =>
  recipients.length ? Math.min(...recipients.map((u) => prefs.get(u)!.leadDays)) : defaultLeadDays;

/** The horse's plan from the database: due items of enabled care items. */
async function duePlan(em: EntityManager, horse: Horse) {
  const [records, overrides] = await Promise.all([
    em.find(HealthRecord, { horse: horse.id, deletedAt: null }),
    em.find(HealthPlanOverride, { horse: horse.id }),
  ]);
  const plan = carePlan({
    birthDate: horse.birthDate ? dateColumn(horse.birthDate) : null,
    records: records.map(recordFacts),
    overrides: planOverrides(overrides),
    today: dayOf(Date.now()),
  });
  return plan.filter((i) => i.enabled && i.nextDue);
}

/**
 * Health book activities. Every send is keyed `health:<horseId>:<item>:<dueDate>:<stage>`
 * (+ the recipient): the outbox, the in-app notification and the HealthReminderLog row are
 * unique by it, so a retried or replayed send never reaches anyone twice.
 */
export function createHealthActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger; config: Config }) {
  const { orm, logger, config } = deps;
  const notify = createNotifyActivities(deps);

  /** What the workflow plans from, for a horse whose due plan was just read: the stages already logged, each item's lead time. */
  async function snapshotOf(em: EntityManager, horse: Horse, due: Awaited<ReturnType<typeof duePlan>>): Promise<FoundHealthReminderSnapshot> {
    const logs = await em.find(HealthReminderLog, { horseId: horse.id });
    const sent = new Map<string, ReminderStage[]>();
    for (const l of logs) {
      const k = `${l.itemKey}|${dateColumn(l.dueDate)}`;
      sent.set(k, [...(sent.get(k) ?? []), l.stage]);
    }
    const recipientsByCreator = new Map<string | null, string[]>();
    for (const item of due) {
      if (!recipientsByCreator.has(item.lastRecordedById)) recipientsByCreator.set(item.lastRecordedById, await reminderRecipients(em, horse.organization.id, item.lastRecordedById));
    }
    const prefs = await preferences(em, [...new Set([...recipientsByCreator.values()].flat())], config.REMINDER_LEAD_DAYS);
    return {
      found: true,
      ...reminderClock(horse.id, config),
      items: due.map((i) => {
        const leadDays = leadDaysOf(recipientsByCreator.get(i.lastRecordedById) ?? [], prefs, config.REMINDER_LEAD_DAYS);
        return { key: i.key, title: i.title, dueDate: i.nextDue!, sent: sent.get(`${i.key}|${i.nextDue}`) ?? [], leadDays };
      }),
    };
  }

  return {
    /** Read-only and idempotent: the workflow retries it without limit. */
    async loadHealthReminders(req: { horseId: string }): Promise<HealthReminderSnapshot> {
      const em = orm.em.fork();
      const horse = await em.findOne(Horse, { id: req.horseId });
      if (!horse) return { found: false };
      return snapshotOf(em, horse, await duePlan(em, horse));
    },

    /**
     * One reminder (stage `reminder`) or escalation (`overdue`), in-app then email as each
     * recipient's preferences say. The escalation also goes to the organization's owners.
     * Re-reads the plan first: an item whose due date moved or that was switched off, or a
     * reminder whose recipients' lead time now puts it after `plannedAt`, is not sent
     * ('replanned'). A timer wake-up sends from the workflow's last read without reading
     * again (one server round trip), so this check is what keeps a change whose signal was
     * lost from sending a stale reminder. A channel that fails for good is skipped; a transient failure is retried (the
     * workflow retries until its deadline). Fails for good only when nothing went out.
     * Every answer but 'gone' carries the snapshot the workflow plans its next step from.
     */
    async sendHealthReminder(req: HealthReminderRequest): Promise<HealthReminderOutcome> {
      const em = orm.em.fork();
      const horse = await em.findOne(Horse, { id: req.horseId });
      if (!horse) return { outcome: 'gone' };
      const due = await duePlan(em, horse);
      const previous = await em.findOne(HealthReminderLog, { horseId: req.horseId, itemKey: req.key, dueDate: req.dueDate, stage: req.stage });
      if (previous) return { outcome: 'already-sent', recipients: previous.recipients, channels: previous.channels, snapshot: await snapshotOf(em, horse, due) };
      const item = due.find((i) => i.key === req.key);
      if (!item || item.nextDue !== req.dueDate) return { outcome: 'replanned', snapshot: await snapshotOf(em, horse, due) };

      const first = await reminderRecipients(em, horse.organization.id, item.lastRecordedById);
      const recipients = req.stage === 'overdue' ? [...new Set([...first, ...(await organizationOwners(em, horse.organization.id))])] : first;
      const prefs = await preferences(em, recipients, config.REMINDER_LEAD_DAYS);
      // The same instant the workflow planned from: the time of day plus this horse's offset in the window.
      const clock = reminderClock(req.horseId, config);
      if (req.stage === 'reminder' && reminderTimes(req.dueDate, leadDaysOf(first, prefs, config.REMINDER_LEAD_DAYS), clock.reminderTimeUtc, clock.reminderOffsetSeconds).remindAt > Date.parse(req.plannedAt)) {
        return { outcome: 'replanned', snapshot: await snapshotOf(em, horse, due) };
      }
      const message = healthReminderMessage({ key: req.key, dueDate: req.dueDate }, horse.name, req.stage);
      const baseKey = reminderKey(req.horseId, req.key, req.dueDate, req.stage);
      const channels = new Set<string>();
      const permanent: string[] = [];
      let transient: unknown = null;
      for (const userId of recipients) {
        const p = prefs.get(userId)!;
        const key = `${baseKey}:${userId}`;
        const sends: [string, () => Promise<unknown>][] = [];
        if (p.inApp) {
          sends.push([
            'in_app',
            () =>
              notify.notifyInApp({
                key,
                userId,
                kind: req.stage === 'overdue' ? 'health_overdue' : 'health_reminder',
                title: message.subject,
                body: message.text,
                data: { horseId: req.horseId, item: req.key, dueDate: req.dueDate, stage: req.stage },
              }),
          ]);
        }
        if (p.email) sends.push(['email', () => notify.sendEmail({ key, userId, ...message })]);
        for (const [name, send] of sends) {
          try {
            await send();
            channels.add(name);
          } catch (err) {
            if (err instanceof ApplicationFailure && err.nonRetryable) {
              // Our words, status and code: this list becomes the failure Temporal keeps in the history.
              permanent.push(`${userId} ${channelFailureText(name, err)}`);
              logger.warn({ key, channel: name, err: err.message }, 'health reminder channel failed for good');
            } else {
              transient ??= err;
              logger.warn({ key, channel: name, err: (err as Error).message }, 'health reminder channel failed; will retry');
            }
          }
        }
      }
      // Retry while a channel may still work (the keys make the retry re-send nothing that went out).
      if (transient) throw transient;
      if (!channels.size && permanent.length) {
        throw ApplicationFailure.nonRetryable(`health reminder ${baseKey} could not be sent on any channel (${permanent.join('; ')})`, ErrorType.ServiceUnavailable);
      }
      try {
        em.create(HealthReminderLog, {
          horseId: req.horseId,
          itemKey: req.key,
          dueDate: req.dueDate,
          stage: req.stage,
          sentAt: new Date(),
          recipients,
          channels: [...channels].sort(),
        });
        await em.flush();
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const fresh = orm.em.fork();
        const row = await fresh.findOneOrFail(HealthReminderLog, { horseId: req.horseId, itemKey: req.key, dueDate: req.dueDate, stage: req.stage });
        return { outcome: 'already-sent', recipients: row.recipients, channels: row.channels, snapshot: await snapshotOf(fresh, horse, due) };
      }
      logger.info({ key: baseKey, recipients, channels: [...channels] }, 'health reminder sent');
      // Read after the log row is committed: the snapshot has this stage sent.
      return { outcome: 'sent', recipients, channels: [...channels].sort(), snapshot: await snapshotOf(em, horse, due) };
    },
  };
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
