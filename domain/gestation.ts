/**
 * Gestation milestones and the reminder plan, from the cover (or ovulation) date.
 * Pure: no I/O, no clock — the workflow, the API and the tests all call it with the
 * dates they have. Values and sources: shared/DOMAIN.md. The product reminds, it does
 * not prescribe: every text says "ask / plan with your vet".
 */
import { DAY_MS } from './time';
import { DomainError, ErrorType } from './errors';
import { isReminderOffset } from './reminder-window';

export const GESTATION_STATUSES = ['tracking', 'confirmed', 'twins', 'lost', 'foaled', 'not_pregnant'] as const;
export type GestationStatus = (typeof GESTATION_STATUSES)[number];
/** Statuses in which the workflow keeps reminding. */
export const ACTIVE_GESTATION_STATUSES = ['tracking', 'confirmed', 'twins'] as const satisfies readonly GestationStatus[];
export const isActiveStatus = (s: GestationStatus): boolean => (ACTIVE_GESTATION_STATUSES as readonly string[]).includes(s);

export const COVER_METHODS = ['natural', 'ai_fresh', 'ai_cooled', 'ai_frozen', 'embryo_transfer'] as const;
export type CoverMethod = (typeof COVER_METHODS)[number];

export const CHECK_KINDS = ['pregnancy', 'heartbeat', 'confirmation', 'sexing', 'other'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];
export const CHECK_RESULTS = ['positive', 'negative', 'twins'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];

export const FOAL_SEXES = ['filly', 'colt'] as const;
export type FoalSex = (typeof FOAL_SEXES)[number];
/** The foal's horse record: a filly is recorded as a mare, a colt as a stallion (gelding comes later, by an edit). */
export const foalGender = (sex: FoalSex): 'mare' | 'stallion' => (sex === 'filly' ? 'mare' : 'stallion');

export const MILESTONE_KINDS = ['vet_check', 'vaccination', 'preparation', 'foaling', 'overdue'] as const;
export type MilestoneKind = (typeof MILESTONE_KINDS)[number];

/** Per-pregnancy switches. Optional milestones are off unless switched on; Caslick only if the mare has one. */
export interface GestationOptions {
  /** Ultrasound around day 60 for fetal sexing. */
  fetalSexing?: boolean;
  /** EHV-1 dose at month 3 (some vets add it). */
  ehv1Month3?: boolean;
  /** Rotavirus doses at months 8, 9, 10 (where used). */
  rotavirus?: boolean;
  /** The mare has a Caslick's suture that must be opened before foaling. */
  hasCaslick?: boolean;
}
export const GESTATION_OPTION_KEYS = ['fetalSexing', 'ehv1Month3', 'rotavirus', 'hasCaslick'] as const;

export const GESTATION = {
  meanDays: 340,
  normalMinDays: 320,
  normalMaxDays: 370,
  /** Accepted range of a mare's previous gestation lengths. */
  historyMinDays: 300,
  historyMaxDays: 400,
  /** Overdue alerts: never before these days, and at least 20 / 30 / 50 days past the centre. */
  overdueNoticeDay: 360,
  overdueEscalationDay: 370,
  overdueVetExamDay: 390,
  overdueNoticeAfterCentre: 20,
  overdueEscalationAfterCentre: 30,
  overdueVetExamAfterCentre: 50,
  /** A cover date further back than this is refused (a pregnancy cannot still be running). */
  maxCoverAgeDays: 400,
  /**
   * "Today" is the UTC date; a user east of UTC is already on the next day. Dates up to
   * this many days after the UTC date are accepted (not "in the future").
   */
  futureToleranceDays: 1,
  /**
   * Reminders go out at this time of day (UTC, HH:MM) of their reminder date; REMINDER_TIME_UTC
   * overrides it through the plan, and each gestation goes out at its own offset in the
   * REMINDER_WINDOW_MINUTES after it (the plan's `reminderOffsetSeconds`).
   */
  reminderTimeUtc: '08:00',
} as const;

export interface Milestone {
  id: string;
  title: string;
  description: string;
  kind: MilestoneKind;
  /** Days after the anchor (cover or ovulation) date. */
  dueDay: number;
  dueDate: string;
  /** dueDate minus the lead time; overdue alerts go out on their day (lead 0). */
  reminderDate: string;
  /** ISO timestamp the reminder is due to go out (reminderDate at the plan's reminder time, plus its offset in the reminder window). */
  reminderAt: string;
  optional: boolean;
}

export interface PlanInput {
  /** YYYY-MM-DD: the last cover/insemination date, or the ovulation date when anchor = 'ovulation'. */
  anchorDate: string;
  anchor: 'cover' | 'ovulation';
  leadDays: number;
  options?: GestationOptions;
  /** The mare's previous gestation lengths in days, when she has foaled before. */
  previousGestationDays?: number[];
  /** Time of day (UTC, HH:MM) reminders go out; GESTATION.reminderTimeUtc when absent. */
  reminderTimeUtc?: string;
  /**
   * Seconds after `reminderTimeUtc` this gestation's reminders go out (its place in the
   * reminder window, domain/reminder-window.ts); 0 when absent (plans and histories from
   * before the window existed).
   */
  reminderOffsetSeconds?: number;
}

/** YYYY-MM-DD (UTC) of an epoch-ms or Date. */
export function dateOf(t: number | Date): string {
  return new Date(typeof t === 'number' ? t : t.getTime()).toISOString().slice(0, 10);
}
export function addDaysIso(date: string, days: number): string {
  return dateOf(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS);
}
export function daysFrom(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

/**
 * The anchor of the plan: the ovulation date when the vet recorded one, else the last
 * cover/insemination date (closest to ovulation when a mare was covered several times).
 */
export function planAnchor(coverDates: string[], ovulationDate?: string | null): { anchorDate: string; anchor: 'cover' | 'ovulation' } {
  if (ovulationDate) return { anchorDate: ovulationDate, anchor: 'ovulation' };
  if (!coverDates.length) throw new Error('a pregnancy needs at least one cover date');
  return { anchorDate: [...coverDates].sort().at(-1)!, anchor: 'cover' };
}

/**
 * The centre of the expected foaling window: 340 days, or the mean of the mare's own
 * previous gestations (she tends to repeat them), kept inside the normal 320–370 range.
 */
export function expectedGestationDays(previous?: number[]): number {
  const valid = (previous ?? []).filter((d) => Number.isFinite(d) && d >= GESTATION.historyMinDays && d <= GESTATION.historyMaxDays);
  if (!valid.length) return GESTATION.meanDays;
  const mean = Math.round(valid.reduce((a, b) => a + b, 0) / valid.length);
  return Math.min(GESTATION.normalMaxDays, Math.max(GESTATION.normalMinDays, mean));
}

interface Def {
  id: string;
  title: string;
  description: string;
  kind: MilestoneKind;
  day: number;
  optional?: keyof GestationOptions;
}

/** The overdue alert days for a window centred on `centre` (360/370/390 for the default 340). */
export function overdueDays(centre: number): { notice: number; escalation: number; vetExam: number } {
  return {
    notice: Math.max(GESTATION.overdueNoticeDay, centre + GESTATION.overdueNoticeAfterCentre),
    escalation: Math.max(GESTATION.overdueEscalationDay, centre + GESTATION.overdueEscalationAfterCentre),
    vetExam: Math.max(GESTATION.overdueVetExamDay, centre + GESTATION.overdueVetExamAfterCentre),
  };
}

function definitions(centre: number): Def[] {
  const shift = centre - GESTATION.meanDays;
  const windowFrom = GESTATION.normalMinDays + shift;
  const windowTo = GESTATION.normalMaxDays + shift;
  const window = `${windowFrom}–${windowTo}`;
  const overdue = overdueDays(centre);
  const vet = 'Book it with your vet; the vet decides what is done.';
  return [
    { id: 'check-pregnancy', kind: 'vet_check', day: 14, title: 'Ultrasound: pregnancy and twins (days 14–16)', description: `First scan to confirm pregnancy and look for twins, which are far easier to deal with before fixation around day 17. ${vet}` },
    { id: 'check-heartbeat', kind: 'vet_check', day: 25, title: 'Ultrasound: heartbeat (days 25–30)', description: `Scan for the embryo's heartbeat (viability); twins must be dealt with by about day 28. ${vet}` },
    { id: 'check-confirmation', kind: 'vet_check', day: 45, title: 'Ultrasound: confirmation (day 45)', description: `Confirmation scan: early loss is common before this point. ${vet}` },
    { id: 'check-sexing', kind: 'vet_check', day: 60, optional: 'fetalSexing', title: 'Ultrasound: fetal sexing (around day 60)', description: `Optional scan in the fetal sexing window. ${vet}` },
    { id: 'ehv1-month-3', kind: 'vaccination', day: 90, optional: 'ehv1Month3', title: 'EHV-1 vaccination, month 3 (if your vet uses it)', description: `Some vets add an EHV-1 (rhinopneumonitis) dose at month 3. Vaccines are your vet's call.` },
    { id: 'ehv1-month-5', kind: 'vaccination', day: 150, title: 'EHV-1 vaccination, month 5', description: `Inactivated EHV-1 (rhinopneumonitis) vaccine against abortion, usually at months 5, 7 and 9. Vaccines are your vet's call.` },
    { id: 'ehv1-month-7', kind: 'vaccination', day: 210, title: 'EHV-1 vaccination, month 7', description: `Second EHV-1 (rhinopneumonitis) dose of the pregnancy. Vaccines are your vet's call.` },
    { id: 'rotavirus-month-8', kind: 'vaccination', day: 240, optional: 'rotavirus', title: 'Rotavirus vaccination, month 8', description: `Rotavirus vaccine (where used), usually at months 8, 9 and 10. Vaccines are your vet's call.` },
    { id: 'ehv1-month-9', kind: 'vaccination', day: 270, title: 'EHV-1 vaccination, month 9', description: `Third EHV-1 (rhinopneumonitis) dose of the pregnancy. Vaccines are your vet's call.` },
    { id: 'rotavirus-month-9', kind: 'vaccination', day: 270, optional: 'rotavirus', title: 'Rotavirus vaccination, month 9', description: `Second rotavirus dose (where used). Vaccines are your vet's call.` },
    { id: 'prefoaling-boosters', kind: 'vaccination', day: centre - 40, title: 'Pre-foaling boosters (4–6 weeks before foaling)', description: `Core vaccine boosters 4–6 weeks before the expected foaling so antibodies reach the colostrum. Vaccines are your vet's call.` },
    { id: 'rotavirus-month-10', kind: 'vaccination', day: 300, optional: 'rotavirus', title: 'Rotavirus vaccination, month 10', description: `Third rotavirus dose (where used). Vaccines are your vet's call.` },
    { id: 'foaling-box', kind: 'preparation', day: centre - 35, title: 'Move to the foaling box and get the foaling kit ready', description: 'Move the mare to her foaling box or paddock 4–6 weeks before the expected date; have the foaling kit and the emergency plan (vet number, transport) ready.' },
    { id: 'foaling-watch', kind: 'foaling', day: centre - 20, title: 'Start the foaling watch (udder, waxing)', description: `The normal foaling window opens (from ${windowFrom} days). Watch the udder fill and the teats "wax" (1–4 days before foaling); camera or foaling alarm on.` },
    { id: 'caslick-opening', kind: 'preparation', day: centre - 14, optional: 'hasCaslick', title: "Caslick's suture opened (1–2 weeks before foaling)", description: `Have the vet open the mare's Caslick's suture 1–2 weeks before the expected foaling. ${vet}` },
    { id: 'expected-foaling', kind: 'foaling', day: centre, title: `Expected foaling (window day ${window})`, description: `Expected around day ${centre}; a normal gestation lasts ${window} days. Record the foaling in the app to create the foal's record.` },
    {
      id: 'overdue-notice',
      kind: 'overdue',
      day: overdue.notice,
      title: `No foaling recorded by day ${overdue.notice}: talk to your vet`,
      description: `There is no fixed due date (expected around day ${centre}, window day ${window}), but at ${overdue.notice} days it is time to talk to your vet (fescue toxicosis, for example, prolongs gestation). If she has foaled, record it.`,
    },
    {
      id: 'overdue-escalation',
      kind: 'overdue',
      day: overdue.escalation,
      title: `Day ${overdue.escalation} and no foaling recorded: call your vet`,
      description: `${overdue.escalation > windowTo ? 'The mare is past' : 'The mare has reached the end of'} her expected foaling window (day ${window}). Call your vet to examine her.`,
    },
    {
      id: 'overdue-vet-exam',
      kind: 'overdue',
      day: overdue.vetExam,
      title: `Day ${overdue.vetExam}: vet exam to confirm the dates`,
      description: `${overdue.vetExam - windowTo} days past her expected foaling window (day ${window}): a vet exam should confirm the breeding dates and the state of the pregnancy.`,
    },
  ];
}

/**
 * Every milestone of a pregnancy, in the order their reminders go out. The overdue
 * alerts are sent on their day (lead 0): they are only sent if no foaling was recorded.
 */
export function gestationMilestones(input: PlanInput): Milestone[] {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.anchorDate) || Number.isNaN(Date.parse(input.anchorDate))) {
    throw new Error(`anchorDate must be YYYY-MM-DD, got "${input.anchorDate}"`);
  }
  if (!Number.isInteger(input.leadDays) || input.leadDays < 0) throw new Error(`leadDays must be a non-negative integer, got ${input.leadDays}`);
  if (input.reminderTimeUtc !== undefined && !/^([01]\d|2[0-3]):[0-5]\d$/.test(input.reminderTimeUtc)) throw new Error(`reminderTimeUtc must be HH:MM (UTC), got "${input.reminderTimeUtc}"`);
  const offsetMs = (input.reminderOffsetSeconds ?? 0) * 1000;
  if (!isReminderOffset(input.reminderOffsetSeconds ?? 0)) throw new Error(`reminderOffsetSeconds must be whole seconds inside the reminder window, got ${input.reminderOffsetSeconds}`);
  const options = input.options ?? {};
  const centre = expectedGestationDays(input.previousGestationDays);
  const milestones = definitions(centre)
    .filter((d) => !d.optional || options[d.optional] === true)
    .map((d): Milestone => {
      const dueDate = addDaysIso(input.anchorDate, d.day);
      const lead = d.kind === 'overdue' ? 0 : input.leadDays;
      const reminderDate = addDaysIso(dueDate, -lead);
      const time = input.reminderTimeUtc ?? GESTATION.reminderTimeUtc;
      return {
        id: d.id,
        title: d.title,
        description: d.description,
        kind: d.kind,
        dueDay: d.day,
        dueDate,
        reminderDate,
        reminderAt: new Date(Date.parse(`${reminderDate}T${time}:00.000Z`) + offsetMs).toISOString(),
        optional: d.optional !== undefined,
      };
    });
  // Stable sort by reminder time, then due day (definition order breaks ties).
  return milestones
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.reminderAt.localeCompare(b.m.reminderAt) || a.m.dueDay - b.m.dueDay || a.i - b.i)
    .map(({ m }) => m);
}

export function expectedFoalingDate(input: Omit<PlanInput, 'leadDays' | 'options'>): string {
  return addDaysIso(input.anchorDate, expectedGestationDays(input.previousGestationDays));
}

/** The milestone a recorded check completes (a check done early means no reminder is needed). */
export const CHECK_MILESTONE: Record<CheckKind, string | null> = {
  pregnancy: 'check-pregnancy',
  heartbeat: 'check-heartbeat',
  confirmation: 'check-confirmation',
  sexing: 'check-sexing',
  other: null,
};

/**
 * Status after a check result; a negative check ends the tracking. Twins stay flagged:
 * a later positive check (heartbeat, confirmation) does not clear the twins status —
 * only the vet, by a negative check or a loss, ends it.
 */
export function statusAfterCheck(current: GestationStatus, result: CheckResult): GestationStatus {
  if (!isActiveStatus(current)) return current;
  if (result === 'negative') return 'not_pregnant';
  if (result === 'twins' || current === 'twins') return 'twins';
  return 'confirmed';
}

/** Recorded events (checks, loss, foaling, corrections) apply only while the tracking runs: 409 after. */
export function assertTracking(status: GestationStatus): void {
  if (!isActiveStatus(status)) throw new DomainError(ErrorType.InvalidTransition, `This gestation's tracking has ended (status ${status}); nothing was changed`);
}

/** What a recorded event changes on a gestation: its status and, when it ends the tracking, the outcome date and the end time. */
export interface GestationTransition {
  status: GestationStatus;
  outcomeDate?: string;
  endedAt?: Date;
}

/** A vet check on `date`: a negative one ends the tracking (not_pregnant) on that date. */
export function checkRecorded(current: GestationStatus, result: CheckResult, date: string, now: Date): GestationTransition {
  assertTracking(current);
  const status = statusAfterCheck(current, result);
  return status === 'not_pregnant' ? { status, outcomeDate: date, endedAt: now } : { status };
}

/** The loss of the gestation on `date` (ends the tracking). */
export function gestationLost(current: GestationStatus, date: string, now: Date): GestationTransition {
  assertTracking(current);
  return { status: 'lost', outcomeDate: date, endedAt: now };
}

/** The foaling on `date` (ends the tracking; the foal's record is created beside it). */
export function gestationFoaled(current: GestationStatus, date: string, now: Date): GestationTransition {
  assertTracking(current);
  return { status: 'foaled', outcomeDate: date, endedAt: now };
}

/** Notes given with an event are appended on a new line, never replacing earlier ones. */
export function appendNotes(current: string | null | undefined, added: string | null | undefined): string | null {
  if (!added) return current ?? null;
  return current ? `${current}\n${added}` : added;
}

/** Milestones completed by recorded events: a non-negative check of a kind, the foaling. */
export function doneMilestones(checks: readonly { kind: CheckKind; result: CheckResult }[], status: GestationStatus): string[] {
  const done = new Set<string>();
  for (const c of checks) {
    const id = CHECK_MILESTONE[c.kind];
    if (id && c.result !== 'negative') done.add(id);
  }
  if (status === 'foaled') done.add('expected-foaling');
  return [...done];
}

export type ReminderDecision = 'wait' | 'send' | 'missed';

/**
 * What a reminder that comes due does, given the whole current plan.
 * - Before its reminder time: wait.
 * - A dated milestone (check, vaccine, preparation, foaling) whose due date has already
 *   passed (pregnancy registered late, cover date corrected backwards, worker down for
 *   days) is missed instead of sending a stale reminder; one still due today or later is
 *   sent now even if its reminder time passed.
 * - Overdue alerts are about a state ("no foaling recorded by day X"): the latest one that
 *   has come due is sent even late; only those it supersedes (an earlier overdue alert
 *   when a later one has come due too) are missed.
 */
export function reminderDecision(m: Milestone, nowMs: number, plan: readonly Milestone[]): ReminderDecision {
  if (Date.parse(m.reminderAt) > nowMs) return 'wait';
  if (m.kind === 'overdue') {
    const superseded = plan.some((o) => o.kind === 'overdue' && o.dueDay > m.dueDay && Date.parse(o.reminderAt) <= nowMs);
    return superseded ? 'missed' : 'send';
  }
  return m.dueDate < dateOf(nowMs) ? 'missed' : 'send';
}

/**
 * Until when a send may keep retrying (ISO timestamp), after which it is given up as
 * failed: the end of the milestone's due date (UTC); for an overdue alert, the moment the
 * next overdue alert supersedes it; null (no deadline) for the last overdue alert.
 */
export function reminderDeadline(m: Milestone, plan: readonly Milestone[]): string | null {
  if (m.kind !== 'overdue') return `${addDaysIso(m.dueDate, 1)}T00:00:00.000Z`;
  const next = plan.filter((o) => o.kind === 'overdue' && o.dueDay > m.dueDay).sort((a, b) => a.dueDay - b.dueDay)[0];
  return next ? next.reminderAt : null;
}

/** milestoneId → the due date it failed for; a failure recorded for another due date (re-planned since) is stale. */
export type FailedReminders = Record<string, string>;

/** The failures that still apply to the current plan. */
export function currentFailures(plan: readonly Milestone[], failed: FailedReminders): string[] {
  return plan.filter((m) => failed[m.id] === m.dueDate).map((m) => m.id);
}

/**
 * Missed milestones, derived from the current plan at `nowMs` (never stored: a re-plan
 * that moves a milestone back into the future makes it upcoming again).
 */
export function missedMilestones(
  plan: readonly Milestone[],
  facts: { sent: Record<string, string>; done: readonly string[]; failed: readonly string[] },
  nowMs: number,
): string[] {
  const done = new Set(facts.done);
  const failed = new Set(facts.failed);
  return plan.filter((m) => !facts.sent[m.id] && !done.has(m.id) && !failed.has(m.id) && reminderDecision(m, nowMs, plan) === 'missed').map((m) => m.id);
}

export const MILESTONE_STATES = ['upcoming', 'sent', 'done', 'missed', 'failed', 'cancelled'] as const;
export type MilestoneState = (typeof MILESTONE_STATES)[number];

export interface TimelineFacts {
  /** milestoneId → ISO time the reminder was sent. */
  sent: Record<string, string>;
  /** Milestones completed by a recorded event (a check, the foaling). */
  done: string[];
  missed: string[];
  failed: string[];
  /** Tracking ended: what is still upcoming is cancelled. */
  ended: boolean;
}

export interface TimelineEntry extends Milestone {
  state: MilestoneState;
  sentAt: string | null;
}

/** Milestones with their state; a milestone done or sent keeps that state across a re-plan. */
export function buildTimeline(milestones: Milestone[], facts: TimelineFacts): TimelineEntry[] {
  const done = new Set(facts.done);
  const missed = new Set(facts.missed);
  const failed = new Set(facts.failed);
  return milestones.map((m) => {
    const sentAt = facts.sent[m.id] ?? null;
    const state: MilestoneState = done.has(m.id)
      ? 'done'
      : sentAt
        ? 'sent'
        : failed.has(m.id)
          ? 'failed'
          : missed.has(m.id)
            ? 'missed'
            : facts.ended
              ? 'cancelled'
              : 'upcoming';
    return { ...m, state, sentAt };
  });
}

/**
 * The timeline rebuilt from the records alone (the API's fallback when the workflow
 * cannot be queried, and for ended pregnancies): missed only where the decision at `nowMs`
 * (the end of tracking, or now) is "missed"; a reminder that was due to be sent but was
 * not (yet) is upcoming, or cancelled once tracking ended.
 */
export function recordedTimeline(
  plan: Milestone[],
  facts: { sent: Record<string, string>; done: string[]; failed?: string[]; ended: boolean },
  nowMs: number,
): TimelineEntry[] {
  const failed = facts.failed ?? [];
  const missed = missedMilestones(plan, { sent: facts.sent, done: facts.done, failed }, nowMs);
  return buildTimeline(plan, { sent: facts.sent, done: facts.done, missed, failed, ended: facts.ended });
}

/** Email / in-app text of one reminder. */
export function gestationReminderMessage(m: Pick<Milestone, 'title' | 'description' | 'dueDate' | 'kind'>, mareName: string): { subject: string; text: string } {
  const when = m.kind === 'overdue' ? 'today' : `on ${m.dueDate}`;
  return {
    subject: `${mareName}: ${m.title}`,
    text: `${mareName} — ${m.title}, due ${when}.\n\n${m.description}\n\nHorse Tempo reminds; your vet decides.\n— The Horse Tempo team`,
  };
}

export function twinsAlertMessage(mareName: string, checkDate: string): { subject: string; text: string } {
  return {
    subject: `${mareName}: twins seen on the ${checkDate} scan — call your vet now`,
    text:
      `The check on ${checkDate} recorded twins for ${mareName}. Twins are far easier to deal with early ` +
      '(before about day 17, and by day 28 at the latest): call your vet at once.\n\n— The Horse Tempo team',
  };
}

/** The latest date accepted as "not in the future": the UTC date plus GESTATION.futureToleranceDays. */
export function latestAcceptedDate(todayUtc: string): string {
  return addDaysIso(todayUtc, GESTATION.futureToleranceDays);
}

/** Validation of an event date (check, loss, foaling) against the UTC date: not in the future (1 day of tolerance). */
export function eventDateProblem(date: string, todayUtc: string): string | null {
  return date > latestAcceptedDate(todayUtc) ? 'must not be in the future' : null;
}

/** Validation of a breeding date against the UTC date: not in the future (1 day of tolerance), not more than 400 days ago. */
export function coverDateProblem(date: string, todayUtc: string): string | null {
  const future = eventDateProblem(date, todayUtc);
  if (future) return future;
  if (daysFrom(date, todayUtc) > GESTATION.maxCoverAgeDays) return `must not be more than ${GESTATION.maxCoverAgeDays} days ago`;
  return null;
}
