import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { Gestation, GestationCheck, ReminderLog, reminderPreferencesOf } from '../../entities';
export { reminderPreferencesOf, type ReminderChannels } from '../../entities/gestation';
import { createNotifyActivities } from '../notify';
import { reminderRecipients } from '../notify/recipients';
import { channelFailureText } from '../notify/channel-failure';
import { ErrorType } from '../../domain/errors';
import { reminderClock } from '../../domain/reminder-window';
import {
  doneMilestones,
  gestationMilestones,
  gestationReminderMessage,
  isActiveStatus,
  planAnchor,
  twinsAlertMessage,
  type GestationOptions,
  type Milestone,
  type GestationStatus,
} from '../../domain/gestation';

export const gestationReminderKey = (gestationId: string, milestoneId: string) => `gestation:${gestationId}:${milestoneId}`;

/** YYYY-MM-DD of a `date` column (a string or a Date, depending on the driver path). */
const dateString = (value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
};

/** What the workflow plans from: the gestation as stored, with its creator's lead time. */
export interface GestationPlanSnapshot {
  anchorDate: string;
  anchor: 'cover' | 'ovulation';
  leadDays: number;
  options: GestationOptions;
  previousGestationDays: number[];
  /** REMINDER_TIME_UTC of the worker that read it (absent in histories written before it existed: 08:00). */
  reminderTimeUtc?: string;
  /**
   * The gestation's second in the reminder window (REMINDER_WINDOW_MINUTES of the worker that
   * read it, domain/reminder-window.ts): every milestone goes out at reminderTimeUtc + this.
   * Absent in histories written before the window existed (0).
   */
  reminderOffsetSeconds?: number;
}

/**
 * The gestation as the database has it (the source of truth), read by the workflow
 * whenever it wakes (a signal, a timer) and before each reminder. `found: false` = the
 * row is gone (deleted with its mare, or never committed): the workflow ends quietly.
 */
export type GestationSnapshot =
  | { found: false }
  | {
      found: true;
      status: GestationStatus;
      plan: GestationPlanSnapshot;
      /** Milestones completed by recorded checks / the foaling. */
      done: string[];
      /** milestoneId → ISO time, from reminder_logs. */
      sent: Record<string, string>;
      /** Every check that saw twins (the workflow alerts once per check). */
      twinsChecks: { checkId: string; date: string }[];
    };

export interface ReminderRequest {
  gestationId: string;
  userId: string;
  milestone: Pick<Milestone, 'id' | 'title' | 'description' | 'kind' | 'dueDate'>;
  /**
   * ISO time after which a send that keeps failing transiently is given up (the
   * milestone's due date has passed): whatever channel already went out is recorded,
   * else the send fails for good. Null/absent: keep retrying.
   */
  deadline?: string | null;
  /**
   * ISO instant (workflow time) at which the workflow found this reminder due, from its
   * last read of the database. The send re-checks it against the database as it is now: a
   * reminder whose lead time has since been shortened is not due yet ('replanned').
   */
  plannedAt: string;
}
/** What `loadGestation` returns for a gestation that exists. */
export type FoundGestationSnapshot = Extract<GestationSnapshot, { found: true }>;
/**
 * `snapshot`: the gestation as the send left it (read after its log row was written), the same
 * as `loadGestation` would return now, so the workflow plans its next sleep from it without
 * scheduling that read (one activity and one workflow task less per wake-up). Absent in
 * histories written before sends returned it: the workflow then reads.
 */
export type ReminderOutcome =
  | { outcome: 'sent' | 'already-sent'; sentAt: string; channels: string[]; snapshot?: FoundGestationSnapshot }
  /** The gestation ended in the database (the signal may still be on its way): nothing sent. */
  | { outcome: 'ended'; status: GestationStatus; snapshot?: FoundGestationSnapshot }
  /** The gestation row is gone: nothing sent; the workflow ends. */
  | { outcome: 'gone' }
  /** The milestone is not in the stored plan any more, has another due date, is done (a check recorded it), or is not due yet with today's lead time: nothing sent; the workflow re-plans. */
  | { outcome: 'replanned'; snapshot?: FoundGestationSnapshot };

/** Channel order in reminder_logs.channels (whatever order they went out in). */
const CHANNEL_ORDER = ['email', 'in_app'];

interface Delivery {
  channels: string[];
  /** Channels that failed for good (a bounced address, a user without email). */
  permanent: string[];
  /** The first retryable error, if a channel failed transiently. */
  transient: unknown;
  /** The channel it came from (named when the deadline turns it into a failure for good). */
  transientChannel: string | null;
}

/**
 * Sends on each channel independently, in-app first (a database write: it does not depend
 * on the email provider), so a permanent email failure never stops the in-app
 * notification. Both are keyed: a retry re-delivers nothing that already went out.
 */
async function deliver(channels: { name: string; send: () => Promise<unknown> }[], logger: Logger, key: string): Promise<Delivery> {
  const result: Delivery = { channels: [], permanent: [], transient: null, transientChannel: null };
  for (const channel of channels) {
    try {
      await channel.send();
      result.channels.push(channel.name);
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) {
        // Our words, status and code: this list becomes the failure Temporal keeps in the history.
        result.permanent.push(channelFailureText(channel.name, err));
        logger.warn({ key, channel: channel.name, err: err.message }, 'gestation notification channel failed for good');
      } else {
        if (!result.transient) {
          result.transient = err;
          result.transientChannel = channel.name;
        }
        logger.warn({ key, channel: channel.name, err: (err as Error).message }, 'gestation notification channel failed; will retry');
      }
    }
  }
  result.channels = [...new Set(result.channels)].sort((a, b) => CHANNEL_ORDER.indexOf(a) - CHANNEL_ORDER.indexOf(b));
  return result;
}

/** The same rule as the health book's reminders: the recorder while a member, else the owners. */
const recipientsOf = (em: EntityManager, organizationId: string, userId: string) => reminderRecipients(em, organizationId, userId);

/** The original recipient keeps the plain key (idempotent across retries); a fallback owner gets their own. */
const recipientKey = (key: string, userId: string, original: string) => (userId === original ? key : `${key}:to:${userId}`);

/**
 * Gestation activities. Every send is keyed `gestation:<gestationId>:<milestoneId>`: the
 * email outbox, the in-app notification and the ReminderLog row are unique by it, so a
 * retried or replayed send never reaches the user twice.
 */
export function createGestationActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger; config: Config }) {
  const { orm, logger, config } = deps;
  const notify = createNotifyActivities(deps);

  const anchorOf = (p: Gestation) => planAnchor(p.coverDates, dateString(p.ovulationDate));
  const planOf = (p: Gestation, leadDays: number): GestationPlanSnapshot => ({
    ...anchorOf(p),
    leadDays,
    options: { ...p.options },
    previousGestationDays: [...p.previousGestationDays],
    // The send's re-check builds the plan with this too: it compares the same instant the workflow planned.
    ...reminderClock(p.id, config),
  });

  /** What the workflow plans from, for a gestation row just read: its creator's lead time, checks, reminders logged. */
  async function snapshotOf(em: EntityManager, p: Gestation): Promise<FoundGestationSnapshot> {
    const prefs = await reminderPreferencesOf(em, p.createdById, config.REMINDER_LEAD_DAYS);
    const checks = await em.find(GestationCheck, { gestation: p.id }, { orderBy: { date: 'asc', createdAt: 'asc' } });
    const logs = await em.find(ReminderLog, { gestationId: p.id });
    return {
      found: true,
      status: p.status,
      plan: planOf(p, prefs.leadDays),
      done: doneMilestones(checks, p.status),
      sent: Object.fromEntries(logs.map((l) => [l.milestoneId, l.sentAt.toISOString()])),
      twinsChecks: checks.filter((c) => c.result === 'twins').map((c) => ({ checkId: c.id, date: dateString(c.date)! })),
    };
  }

  return {
    /** Read-only and idempotent: the workflow retries it without limit (a database outage only delays it). */
    async loadGestation(req: { gestationId: string }): Promise<GestationSnapshot> {
      const em = orm.em.fork();
      const p = await em.findOne(Gestation, { id: req.gestationId });
      if (!p) return { found: false };
      return snapshotOf(em, p);
    },

    /**
     * One reminder, in-app then email (each as the user's preferences say). A channel that
     * fails for good is skipped; a transient failure is retried (the workflow retries
     * without an attempt limit) until `deadline`, after which what went out is recorded.
     * Fails for good only when no channel went out. The text is the stored plan's: a
     * milestone that moved, disappeared, was done or is not due yet at `plannedAt` with
     * today's lead time is not sent ('replanned').
     */
    async sendGestationReminder(req: ReminderRequest): Promise<ReminderOutcome> {
      const em = orm.em.fork();
      const gestation = await em.findOne(Gestation, { id: req.gestationId }, { populate: ['mare'] });
      if (!gestation) return { outcome: 'gone' };
      const previous = await em.findOne(ReminderLog, { gestationId: req.gestationId, milestoneId: req.milestone.id });
      if (previous) return { outcome: 'already-sent', sentAt: previous.sentAt.toISOString(), channels: previous.channels, snapshot: await snapshotOf(em, gestation) };
      if (!isActiveStatus(gestation.status)) return { outcome: 'ended', status: gestation.status, snapshot: await snapshotOf(em, gestation) };

      const prefs = await reminderPreferencesOf(em, req.userId, config.REMINDER_LEAD_DAYS);
      const milestone = gestationMilestones(planOf(gestation, prefs.leadDays)).find((m) => m.id === req.milestone.id);
      if (!milestone || milestone.dueDate !== req.milestone.dueDate) return { outcome: 'replanned', snapshot: await snapshotOf(em, gestation) };
      // A timer wake-up sends from the workflow's last read: a lead time shortened or a check
      // recorded since (its signal lost) must not send a stale reminder.
      if (Date.parse(milestone.reminderAt) > Date.parse(req.plannedAt)) return { outcome: 'replanned', snapshot: await snapshotOf(em, gestation) };
      const checks = await em.find(GestationCheck, { gestation: gestation.id });
      if (doneMilestones(checks, gestation.status).includes(milestone.id)) return { outcome: 'replanned', snapshot: await snapshotOf(em, gestation) };

      const key = gestationReminderKey(req.gestationId, milestone.id);
      const message = gestationReminderMessage(milestone, gestation.mare.name);
      const channels: { name: string; send: () => Promise<unknown> }[] = [];
      // Whoever registered the gestation, while still a member of its organization; once they
      // left, the organization's owners (a former member must not keep hearing about its mares).
      for (const userId of await recipientsOf(em, gestation.organization.id, req.userId)) {
        const to = userId === req.userId ? prefs : await reminderPreferencesOf(em, userId, config.REMINDER_LEAD_DAYS);
        const k = recipientKey(key, userId, req.userId);
        if (to.inApp) {
          channels.push({
            name: 'in_app',
            send: () =>
              notify.notifyInApp({
                key: k,
                userId,
                kind: 'gestation_reminder',
                title: message.subject,
                body: milestone.description,
                data: { gestationId: req.gestationId, mareId: gestation.mare.id, milestoneId: milestone.id, dueDate: milestone.dueDate },
              }),
          });
        }
        if (to.email) channels.push({ name: 'email', send: () => notify.sendEmail({ key: k, userId, ...message }) });
      }
      const delivery = await deliver(channels, logger, key);

      const pastDeadline = !!req.deadline && Date.now() >= Date.parse(req.deadline);
      if (delivery.transient && !pastDeadline) throw delivery.transient;
      if (!delivery.channels.length) {
        const why = [...delivery.permanent, ...(delivery.transient ? [`deadline ${req.deadline} passed: ${channelFailureText(delivery.transientChannel ?? 'a channel', delivery.transient, 'until the deadline')}`] : [])];
        throw ApplicationFailure.nonRetryable(`gestation reminder ${key} could not be sent on any channel (${why.join('; ')})`, ErrorType.ServiceUnavailable);
      }
      const log = em.create(ReminderLog, {
        gestationId: req.gestationId,
        milestoneId: milestone.id,
        title: milestone.title,
        dueDate: milestone.dueDate,
        sentAt: new Date(),
        channels: delivery.channels,
      });
      try {
        await em.flush();
        logger.info({ key, channels: delivery.channels, failedForGood: delivery.permanent }, 'gestation reminder sent');
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const fresh = orm.em.fork();
        const row = await fresh.findOneOrFail(ReminderLog, { gestationId: req.gestationId, milestoneId: milestone.id });
        return { outcome: 'already-sent', sentAt: row.sentAt.toISOString(), channels: row.channels, snapshot: await snapshotOf(fresh, gestation) };
      }
      // Read after the log row is committed: the snapshot has this milestone sent.
      return { outcome: 'sent', sentAt: log.sentAt.toISOString(), channels: delivery.channels, snapshot: await snapshotOf(em, gestation) };
    },

    /**
     * Twins seen on a scan: tell the owner at once, in-app then email, whatever the
     * preferences. Retried without limit while a channel fails transiently; fails for good
     * only if both channels did. Nothing is sent once the gestation has ended or is gone.
     */
    async sendGestationAlert(req: { gestationId: string; userId: string; kind: 'twins'; checkId: string; date: string }): Promise<{ sent: boolean; channels: string[] }> {
      const em = orm.em.fork();
      const gestation = await em.findOne(Gestation, { id: req.gestationId }, { populate: ['mare'] });
      if (!gestation || !isActiveStatus(gestation.status)) return { sent: false, channels: [] };
      const key = `gestation:${req.gestationId}:twins:${req.checkId}`;
      const message = twinsAlertMessage(gestation.mare.name, req.date);
      const recipients = await recipientsOf(em, gestation.organization.id, req.userId);
      const delivery = await deliver(
        recipients.flatMap((userId) => {
          const k = recipientKey(key, userId, req.userId);
          return [
            {
              name: 'in_app',
              send: () =>
                notify.notifyInApp({
                  key: k,
                  userId,
                  kind: 'gestation_alert',
                  title: message.subject,
                  body: message.text,
                  data: { gestationId: req.gestationId, mareId: gestation.mare.id, alert: 'twins', checkDate: req.date },
                }),
            },
            { name: 'email', send: () => notify.sendEmail({ key: k, userId, ...message }) },
          ];
        }),
        logger,
        key,
      );
      if (delivery.transient) throw delivery.transient;
      if (!delivery.channels.length) throw ApplicationFailure.nonRetryable(`twins alert ${key} could not be sent on any channel (${delivery.permanent.join('; ')})`, ErrorType.ServiceUnavailable);
      return { sent: true, channels: delivery.channels };
    },
  };
}

export type GestationActivities = ReturnType<typeof createGestationActivities>;
