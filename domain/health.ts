/**
 * The health book: care records, the care plan that computes what is due next, the
 * influenza competition rules (FEI, BEF) and the reminder decisions of the per-horse
 * workflow. Pure: no I/O, no clock — the API, the activities, the workflow and the tests
 * pass the dates they have. Values and sources: shared/DOMAIN.md "Health book". The
 * product reminds, it does not prescribe.
 */
import { DAY_MS } from './time';
import { isReminderOffset } from './reminder-window';

// ---------------------------------------------------------------------------------------
// Dates (YYYY-MM-DD strings, UTC)
// ---------------------------------------------------------------------------------------

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar date in YYYY-MM-DD form (2026-02-30 is not). */
export function isIsoDate(s: string): boolean {
  if (!ISO_DATE.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
}

export function dayOf(t: number | Date): string {
  return new Date(typeof t === 'number' ? t : t.getTime()).toISOString().slice(0, 10);
}

export function plusDays(date: string, days: number): string {
  return dayOf(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS);
}

/** Whole days from a to b (b − a). */
export function daysBetweenDates(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

/**
 * Calendar months, the way regulations count them ("within 7 calendar months"): the same
 * day of the month, or the month's last day when it has fewer days (Aug 31 + 6 months =
 * Feb 28/29).
 */
export function plusMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const total = y * 12 + (m - 1) + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return dayOf(Date.UTC(year, month, Math.min(d, lastDay)));
}

/** Whole years of age on a date (birthdays count from the day itself). */
export function ageInYears(birthDate: string, on: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number);
  const [y, m, d] = on.split('-').map(Number);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

// ---------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------

export const HEALTH_RECORD_KINDS = ['vaccination', 'deworming', 'fecal_egg_count', 'farrier', 'dental', 'vet', 'test', 'document'] as const;
export type HealthRecordKind = (typeof HEALTH_RECORD_KINDS)[number];

/** Diseases a vaccination covers. `other` is recorded but has no protocol (no reminder). */
export const VACCINE_DISEASES = ['influenza', 'tetanus', 'eee_wee', 'west_nile', 'rabies', 'ehv', 'other'] as const;
export type VaccineDisease = (typeof VACCINE_DISEASES)[number];

/** Anthelmintic drug classes (AAEP guidelines); the class matters for resistance, the brand does not. */
export const DEWORMER_CLASSES = ['macrocyclic_lactone', 'benzimidazole', 'tetrahydropyrimidine', 'isoquinoline', 'other'] as const;
export type DewormerClass = (typeof DEWORMER_CLASSES)[number];

export const FARRIER_WORK = ['trim', 'shoes', 'reset'] as const;
export type FarrierWork = (typeof FARRIER_WORK)[number];

export const TEST_TYPES = ['coggins', 'other'] as const;
export type TestType = (typeof TEST_TYPES)[number];

/**
 * A test's result. `negative`, `positive`, `inconclusive` and `pending` are what a user
 * records; `unknown` is what the 2026-12-03 migration left where the old free-text result
 * could not be read (the text stays in `resultText`). Only a negative Coggins (EIA) test is a
 * certificate: any other result gives no validity, and the care item needs action.
 */
export const TEST_RESULTS = ['negative', 'positive', 'inconclusive', 'pending', 'unknown'] as const;
export type TestResult = (typeof TEST_RESULTS)[number];
/** The results the API accepts (`unknown` is the migration's, never typed by a user). */
export const TEST_RESULT_INPUTS = ['negative', 'positive', 'inconclusive', 'pending'] as const;

export const DOCUMENT_TYPES = ['passport', 'insurance', 'health_certificate', 'other'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export const SHEDDER_CLASSES = ['low', 'medium', 'high'] as const;
export type ShedderClass = (typeof SHEDDER_CLASSES)[number];

export interface VaccinationDetails {
  diseases: VaccineDisease[];
  product?: string | null;
  batch?: string | null;
  /** 1, 2 (… for a 3-dose primary) = primary course; a later number or none = booster. A new dose 1 restarts the course. */
  doseNumber?: number | null;
  givenBy?: string | null;
}
export interface DewormingDetails {
  product?: string | null;
  drugClass: DewormerClass;
}
export interface FecalEggCountDetails {
  eggsPerGram: number;
}
export interface FarrierDetails {
  work: FarrierWork;
  farrier?: string | null;
}
export interface DentalDetails {
  practitioner?: string | null;
}
export interface VetDetails {
  reason: string;
  medication?: string | null;
  medicationEndsOn?: string | null;
  /** A follow-up visit the vet asked for: reminded like any due item. */
  followUpOn?: string | null;
  /** A penetrating wound or surgery: a tetanus booster is due if the last dose is more than 6 months old. */
  woundOrSurgery?: boolean;
  vet?: string | null;
}
export interface TestDetails {
  testType: TestType;
  name?: string | null;
  /** Absent or null = not on record: a Coggins without a negative result is no certificate. */
  result?: TestResult | null;
  /** The lab's own wording (a titre, a reference), kept as written. */
  resultText?: string | null;
  expiresOn?: string | null;
}
export interface DocumentDetails {
  documentType: DocumentType;
  name?: string | null;
  reference?: string | null;
  expiresOn?: string | null;
}

export interface HealthDetailsByKind {
  vaccination: VaccinationDetails;
  deworming: DewormingDetails;
  fecal_egg_count: FecalEggCountDetails;
  farrier: FarrierDetails;
  dental: DentalDetails;
  vet: VetDetails;
  test: TestDetails;
  document: DocumentDetails;
}
export type HealthDetails = HealthDetailsByKind[HealthRecordKind];

/** What the rules need of a record. */
export interface HealthRecordFacts<K extends HealthRecordKind = HealthRecordKind> {
  id: string;
  kind: K;
  /** YYYY-MM-DD the care was given (the document's issue date). */
  date: string;
  details: HealthDetailsByKind[K];
  createdById: string;
  /** ISO time; breaks ties between records of the same date (the later entry wins). */
  createdAt?: string;
}

// ---------------------------------------------------------------------------------------
// Defaults (DOMAIN.md "Health book")
// ---------------------------------------------------------------------------------------

export interface VaccineProtocol {
  /** Doses of the primary course. */
  primaryDoses: number;
  /** Days between primary doses (AAEP: 4–6 weeks; FEI/BEF influenza: 21–92 days). */
  primaryGapDays: number;
  /** First booster, months after the last primary dose. */
  firstBoosterMonths: number;
  /** Later boosters, months apart. */
  boosterMonths: number;
}

export const VACCINE_PROTOCOLS: Record<Exclude<VaccineDisease, 'other'>, VaccineProtocol> = {
  // Sport rules: first booster within 7 months (FEI) / 150–215 days (BEF) of dose 2: 6 months is inside both.
  influenza: { primaryDoses: 2, primaryGapDays: 28, firstBoosterMonths: 6, boosterMonths: 12 },
  tetanus: { primaryDoses: 2, primaryGapDays: 28, firstBoosterMonths: 12, boosterMonths: 12 },
  eee_wee: { primaryDoses: 2, primaryGapDays: 28, firstBoosterMonths: 12, boosterMonths: 12 },
  west_nile: { primaryDoses: 2, primaryGapDays: 28, firstBoosterMonths: 12, boosterMonths: 12 },
  rabies: { primaryDoses: 1, primaryGapDays: 0, firstBoosterMonths: 12, boosterMonths: 12 },
  ehv: { primaryDoses: 3, primaryGapDays: 28, firstBoosterMonths: 6, boosterMonths: 6 },
};

export const HEALTH = {
  /** Trim / reshoe every 4–8 weeks; default 6 weeks. */
  farrierDays: 42,
  dentalMonthsAdult: 12,
  dentalMonthsYoung: 6,
  /** Under this age (at the last exam) the dental interval is the young one. */
  dentalYoungUnderYears: 5,
  /** Fecal egg counts in spring and autumn. */
  fecalEggCountMonths: 6,
  /** Eggs per gram: below `mediumFrom` low, up to `highAbove` medium, above it high (AAEP). */
  fecMediumFrom: 200,
  fecHighAbove: 500,
  /** Deworming interval (months) by the last FEC class; no FEC yet = the twice-a-year baseline. */
  dewormingMonths: { low: 12, medium: 6, high: 3, unknown: 6 } as Record<ShedderClass | 'unknown', number>,
  /** Horses under 3 follow the vet's plan, not the adult FEC classes. */
  dewormingYoungUnderYears: 3,
  dewormingYoungMonths: 3,
  /** A wound or surgery calls for a tetanus booster when the last dose is older than this. */
  tetanusWoundMonths: 6,
  /** Plan overrides: 1 day to 5 years. */
  minIntervalDays: 1,
  maxIntervalDays: 1826,
  /** "due soon" when the due date is this close (days) — the due view's default window. */
  dueSoonDays: 30,
  /**
   * Reminders go out at this time of day (UTC, HH:MM); the overdue escalation at the same time
   * the day after the due date. The workers' REMINDER_TIME_UTC setting overrides it, and each
   * horse goes out at its own offset in the REMINDER_WINDOW_MINUTES after it (the snapshot the
   * workflow reads carries both).
   */
  reminderTimeUtc: '08:00',
  /** Dates up to this many days after the UTC date are "today" somewhere east of UTC. */
  futureToleranceDays: 1,
} as const;

export function shedderClass(eggsPerGram: number): ShedderClass {
  if (eggsPerGram > HEALTH.fecHighAbove) return 'high';
  if (eggsPerGram >= HEALTH.fecMediumFrom) return 'medium';
  return 'low';
}

// ---------------------------------------------------------------------------------------
// Care items and the plan
// ---------------------------------------------------------------------------------------

export type PlannedVaccine = Exclude<VaccineDisease, 'other'>;
export const PLANNED_VACCINES = VACCINE_DISEASES.filter((d): d is PlannedVaccine => d !== 'other');

export type CareItemKey =
  | 'farrier'
  | 'dental'
  | 'deworming'
  | 'fecal_egg_count'
  | 'vet'
  | `vaccination:${PlannedVaccine}`
  | `test:${TestType}`
  | `document:${DocumentType}`;

export const CARE_ITEM_KEYS: readonly CareItemKey[] = [
  'farrier',
  'dental',
  'deworming',
  'fecal_egg_count',
  ...PLANNED_VACCINES.map((d) => `vaccination:${d}` as const),
  'vet',
  ...TEST_TYPES.map((t) => `test:${t}` as const),
  ...DOCUMENT_TYPES.map((t) => `document:${t}` as const),
];
export const isCareItemKey = (s: string): s is CareItemKey => (CARE_ITEM_KEYS as readonly string[]).includes(s);

/** Items listed even before anything was recorded (the routine every horse has). */
const ALWAYS_LISTED: readonly CareItemKey[] = ['farrier', 'dental', 'deworming', 'fecal_egg_count', 'vaccination:influenza', 'vaccination:tetanus'];

/** Items whose rhythm is an interval an override may change; the others follow a date on the record (expiry, follow-up). */
export function hasInterval(key: CareItemKey): boolean {
  return key === 'farrier' || key === 'dental' || key === 'deworming' || key === 'fecal_egg_count' || key.startsWith('vaccination:');
}

export function careItemKind(key: CareItemKey): HealthRecordKind {
  return key.split(':')[0] as HealthRecordKind;
}

const DISEASE_TITLES: Record<VaccineDisease, string> = {
  influenza: 'influenza',
  tetanus: 'tetanus',
  eee_wee: 'EEE/WEE',
  west_nile: 'West Nile',
  rabies: 'rabies',
  ehv: 'EHV-1/4 (rhinopneumonitis)',
  other: 'other',
};
const TEST_TITLES: Record<TestType, string> = { coggins: 'Coggins (EIA) test', other: 'Test' };
const DOCUMENT_TITLES: Record<DocumentType, string> = { passport: 'Passport', insurance: 'Insurance', health_certificate: 'Health certificate', other: 'Document' };

export function careItemTitle(key: CareItemKey): string {
  const [kind, sub] = key.split(':');
  switch (kind) {
    case 'farrier':
      return 'Farrier (trim or shoes)';
    case 'dental':
      return 'Dental exam';
    case 'deworming':
      return 'Deworming';
    case 'fecal_egg_count':
      return 'Fecal egg count';
    case 'vet':
      return 'Vet follow-up';
    case 'vaccination':
      return `Vaccination: ${DISEASE_TITLES[sub as VaccineDisease]}`;
    case 'test':
      return `${TEST_TITLES[sub as TestType]} expiry`;
    default:
      return `${DOCUMENT_TITLES[sub as DocumentType]} expiry`;
  }
}

/** The care items a record counts for (a vaccination may cover several diseases). */
export function careItemsOf(r: HealthRecordFacts): CareItemKey[] {
  switch (r.kind) {
    case 'vaccination': {
      const diseases = (r.details as VaccinationDetails).diseases.filter((d): d is PlannedVaccine => d !== 'other');
      return [...new Set(diseases)].map((d) => `vaccination:${d}` as const);
    }
    case 'test':
      return [`test:${(r.details as TestDetails).testType}`];
    case 'document':
      return [`document:${(r.details as DocumentDetails).documentType}`];
    default:
      return [r.kind];
  }
}

/** Owner's or vet's change of one item of a horse's plan. */
export interface PlanOverride {
  key: CareItemKey;
  enabled: boolean;
  /** Replaces the item's regular interval (farrier, dental at any age, deworming in any class, FEC, a vaccine's boosters). */
  intervalDays?: number | null;
}

/** `action_needed`: the last record is a finding to act on (a test that is not negative), not a date to wait for. */
export const CARE_STATUSES = ['ok', 'due_soon', 'overdue', 'never_recorded', 'off', 'action_needed'] as const;
export type CareStatus = (typeof CARE_STATUSES)[number];

export interface CareItemState {
  key: CareItemKey;
  kind: HealthRecordKind;
  title: string;
  enabled: boolean;
  /** The rule in words, e.g. "every 6 weeks" or "dose 2 of the primary course, 28 days after dose 1". */
  rule: string;
  /** The override's interval when one is set. */
  intervalDays: number | null;
  lastDone: string | null;
  lastRecordId: string | null;
  /** Who recorded the last record (the reminder's first recipient). */
  lastRecordedById: string | null;
  nextDue: string | null;
  status: CareStatus;
  /** Why the item needs action (status `action_needed`), else null. */
  attention: string | null;
}

export interface CarePlanInput {
  birthDate?: string | null;
  records: readonly HealthRecordFacts[];
  overrides?: readonly PlanOverride[];
  /** UTC date the statuses are computed for. */
  today: string;
  dueSoonDays?: number;
}

const byDate = (a: HealthRecordFacts, b: HealthRecordFacts) =>
  a.date.localeCompare(b.date) || (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id);

function interval(date: string, months: number, overrideDays: number | null | undefined): string {
  return overrideDays ? plusDays(date, overrideDays) : plusMonths(date, months);
}

const monthsText = (m: number) => (m === 12 ? 'every 12 months' : `every ${m} months`);
const daysText = (d: number) => (d % 7 === 0 ? `every ${d / 7} weeks` : `every ${d} days`);

export interface VaccineDose {
  date: string;
  doseNumber?: number | null;
}

export interface VaccineCourse {
  /** Doses of the current course in date order; `position` is the dose's number in it. */
  doses: (VaccineDose & { position: number })[];
  /** False when the recorded history starts with a booster (the primary course is not on record). */
  primaryRecorded: boolean;
}

/**
 * The current course of doses against one disease: a dose numbered 1 starts a course (a
 * lapsed horse restarts its primary course); without one, the first recorded dose is
 * dose 1 unless it carries another number (history entered from a booster on).
 */
export function vaccineCourse(all: readonly VaccineDose[]): VaccineCourse {
  const doses = [...all].sort((a, b) => a.date.localeCompare(b.date) || (a.doseNumber ?? 99) - (b.doseNumber ?? 99));
  if (!doses.length) return { doses: [], primaryRecorded: false };
  let start = -1;
  doses.forEach((d, i) => {
    if (d.doseNumber === 1) start = i;
  });
  if (start >= 0) return { doses: doses.slice(start).map((d, i) => ({ ...d, position: i + 1 })), primaryRecorded: true };
  const first = doses[0].doseNumber ?? 1;
  return { doses: doses.map((d, i) => ({ ...d, position: first + i })), primaryRecorded: first === 1 };
}

function vaccinationDoses(records: readonly HealthRecordFacts[], disease: VaccineDisease): VaccineDose[] {
  return records
    .filter((r) => r.kind === 'vaccination' && (r.details as VaccinationDetails).diseases.includes(disease))
    .map((r) => ({ date: r.date, doseNumber: (r.details as VaccinationDetails).doseNumber ?? null }));
}

/** Next dose of a vaccine from its course: the next primary dose, the first booster, or the next booster. */
export function nextVaccineDose(disease: PlannedVaccine, doses: readonly VaccineDose[], overrideDays?: number | null): { due: string; rule: string } | null {
  const p = VACCINE_PROTOCOLS[disease];
  const course = vaccineCourse(doses);
  const last = course.doses.at(-1);
  if (!last) return null;
  if (last.position < p.primaryDoses) {
    return { due: plusDays(last.date, p.primaryGapDays), rule: `dose ${last.position + 1} of the primary course, ${p.primaryGapDays} days after dose ${last.position}` };
  }
  if (last.position === p.primaryDoses && !overrideDays) {
    return { due: plusMonths(last.date, p.firstBoosterMonths), rule: `first booster, ${p.firstBoosterMonths} months after the primary course` };
  }
  return {
    due: interval(last.date, p.boosterMonths, overrideDays),
    rule: `booster ${overrideDays ? daysText(overrideDays) : monthsText(p.boosterMonths)}`,
  };
}

/** The due date of one item from the records, or null when nothing recorded sets one. */
function nextDueOf(
  key: CareItemKey,
  records: readonly HealthRecordFacts[],
  last: HealthRecordFacts | undefined,
  birthDate: string | null | undefined,
  overrideDays: number | null | undefined,
): { due: string | null; rule: string } {
  const [kind, sub] = key.split(':');
  switch (kind) {
    case 'farrier': {
      const days = overrideDays ?? HEALTH.farrierDays;
      return { due: last ? plusDays(last.date, days) : null, rule: daysText(days) };
    }
    case 'dental': {
      if (overrideDays) return { due: last ? plusDays(last.date, overrideDays) : null, rule: daysText(overrideDays) };
      const young = !!(last && birthDate && ageInYears(birthDate, last.date) < HEALTH.dentalYoungUnderYears);
      const months = young ? HEALTH.dentalMonthsYoung : HEALTH.dentalMonthsAdult;
      return {
        due: last ? plusMonths(last.date, months) : null,
        rule: young ? `${monthsText(months)} (under ${HEALTH.dentalYoungUnderYears} years old)` : monthsText(months),
      };
    }
    case 'fecal_egg_count': {
      const rule = overrideDays ? daysText(overrideDays) : `${monthsText(HEALTH.fecalEggCountMonths)} (spring and autumn)`;
      return { due: last ? interval(last.date, HEALTH.fecalEggCountMonths, overrideDays) : null, rule };
    }
    case 'deworming': {
      if (overrideDays) return { due: last ? plusDays(last.date, overrideDays) : null, rule: daysText(overrideDays) };
      const young = !!(last && birthDate && ageInYears(birthDate, last.date) < HEALTH.dewormingYoungUnderYears);
      if (young) {
        return {
          due: last ? plusMonths(last.date, HEALTH.dewormingYoungMonths) : null,
          rule: `${monthsText(HEALTH.dewormingYoungMonths)} (under ${HEALTH.dewormingYoungUnderYears} years old: follow your vet's plan)`,
        };
      }
      const fec = records.filter((r) => r.kind === 'fecal_egg_count').sort(byDate).at(-1);
      const cls = fec ? shedderClass((fec.details as FecalEggCountDetails).eggsPerGram) : 'unknown';
      const months = HEALTH.dewormingMonths[cls];
      return {
        due: last ? plusMonths(last.date, months) : null,
        rule: cls === 'unknown' ? `${monthsText(months)} (no fecal egg count yet)` : `${monthsText(months)} (${cls} shedder, FEC of ${fec!.date})`,
      };
    }
    case 'vaccination': {
      const disease = sub as PlannedVaccine;
      const doses = vaccinationDoses(records, disease);
      const next = nextVaccineDose(disease, doses, overrideDays);
      let due = next?.due ?? null;
      let rule = next?.rule ?? (overrideDays ? `booster ${daysText(overrideDays)}` : `primary course, then ${monthsText(VACCINE_PROTOCOLS[disease].boosterMonths)}`);
      if (disease === 'tetanus' && doses.length) {
        // A penetrating wound or surgery: booster at once when the last dose is more than 6 months old.
        const lastDose = doses.map((d) => d.date).sort().at(-1)!;
        const wound = records
          .filter((r) => r.kind === 'vet' && (r.details as VetDetails).woundOrSurgery && r.date > lastDose)
          .map((r) => r.date)
          .sort()
          .find((d) => d > plusMonths(lastDose, HEALTH.tetanusWoundMonths));
        if (wound && (!due || wound < due)) {
          due = wound;
          rule = `booster at the wound or surgery of ${wound} (last dose more than ${HEALTH.tetanusWoundMonths} months old)`;
        }
      }
      return { due, rule };
    }
    case 'vet': {
      const followUp = last ? ((last.details as VetDetails).followUpOn ?? null) : null;
      return { due: followUp, rule: 'the follow-up date the vet set' };
    }
    default:
      // test / document: the latest record's expiry.
      return { due: last ? ((last.details as TestDetails | DocumentDetails).expiresOn ?? null) : null, rule: 'renew before the expiry date' };
  }
}

/** The result of a test record as the rules read it (absent = not on record = `unknown`). */
export function testResultOf(details: TestDetails): TestResult {
  return details.result ?? 'unknown';
}

/**
 * Why the latest test of an item needs action instead of a date: a Coggins (EIA) test counts
 * only when negative; another test only when it is positive, inconclusive or pending (a test
 * without a result, or a negative one, follows its expiry as before). Null = nothing to act on.
 */
export function testAttention(last: HealthRecordFacts | undefined): string | null {
  if (!last || last.kind !== 'test') return null;
  const d = last.details as TestDetails;
  const result = testResultOf(d);
  if (result === 'negative') return null;
  if (d.testType !== 'coggins' && (result === 'unknown' || d.result == null)) return null;
  const what = d.testType === 'coggins' ? 'Coggins (EIA) test' : `test${d.name ? ` (${d.name})` : ''}`;
  const certificate = d.testType === 'coggins' ? ': not a valid Coggins certificate' : '';
  switch (result) {
    case 'positive':
      return d.testType === 'coggins'
        ? `positive ${what} of ${last.date}${certificate}. Equine infectious anaemia is a notifiable (reportable) disease in most countries: contact your vet now`
        : `positive ${what} of ${last.date}: talk to your vet`;
    case 'inconclusive':
      return `inconclusive ${what} of ${last.date}${certificate}: retest with your vet`;
    case 'pending':
      return `${what} of ${last.date} awaits its result${certificate} yet: record the result when the lab answers`;
    default:
      return `no readable result on record for the ${what} of ${last.date}${certificate}: record the lab's result`;
  }
}

export function careStatus(item: { enabled: boolean; lastDone: string | null; nextDue: string | null }, today: string, dueSoonDays: number = HEALTH.dueSoonDays): CareStatus {
  if (!item.enabled) return 'off';
  if (!item.lastDone) return 'never_recorded';
  if (!item.nextDue) return 'ok';
  if (item.nextDue < today) return 'overdue';
  if (daysBetweenDates(today, item.nextDue) <= dueSoonDays) return 'due_soon';
  return 'ok';
}

/**
 * Per care item: last done, next due and status. Lists the routine items always, and any
 * other item once something was recorded for it or the plan mentions it.
 */
export function carePlan(input: CarePlanInput): CareItemState[] {
  const overrides = new Map((input.overrides ?? []).map((o) => [o.key, o]));
  const recordsByItem = new Map<CareItemKey, HealthRecordFacts[]>();
  for (const r of input.records) for (const k of careItemsOf(r)) recordsByItem.set(k, [...(recordsByItem.get(k) ?? []), r]);
  const listed = CARE_ITEM_KEYS.filter((k) => ALWAYS_LISTED.includes(k) || recordsByItem.has(k) || overrides.has(k));
  return listed.map((key) => {
    const own = [...(recordsByItem.get(key) ?? [])].sort(byDate);
    const last = own.at(-1);
    const override = overrides.get(key);
    const enabled = override?.enabled ?? true;
    const intervalDays = override?.intervalDays ?? null;
    const { due, rule } = nextDueOf(key, input.records, last, input.birthDate, intervalDays);
    // A test to act on has no due date: its expiry is not a validity (no reminder, no calendar entry).
    const attention = enabled ? testAttention(last) : null;
    const state = { enabled, lastDone: last?.date ?? null, nextDue: enabled && !attention ? due : null };
    return {
      key,
      kind: careItemKind(key),
      title: careItemTitle(key),
      enabled,
      rule,
      intervalDays,
      lastDone: state.lastDone,
      lastRecordId: last?.id ?? null,
      lastRecordedById: last?.createdById ?? null,
      nextDue: state.nextDue,
      status: attention ? 'action_needed' : careStatus(state, input.today, input.dueSoonDays),
      attention,
    };
  });
}

/**
 * What a marketplace listing shows of its horse's health book when the seller shares it
 * (Listing.shareHealthSummary): three facts, no record, no note, no name of a vet or product.
 */
export interface HealthSummary {
  /**
   * Influenza and tetanus are ok or due soon, and so is every other enabled vaccination item;
   * false when one is overdue or never recorded. A seller who switched influenza or tetanus off
   * in their plan gets false: the plan is theirs, but a buyer reading "up to date" takes it to
   * cover the vaccines every horse needs.
   */
  vaccinationsUpToDate: boolean;
  /** Date of the last vet visit or treatment record. */
  lastVetCheck: string | null;
  /**
   * Expiry of the latest Coggins (EIA) certificate that states one (it may be past: the buyer
   * sees it expired). Null when the latest Coggins test is not negative (positive,
   * inconclusive, pending, no result on record): such a test is no certificate, and it voids
   * any earlier one.
   */
  cogginsValidUntil: string | null;
  /** Result of the latest Coggins test (null when none is recorded). */
  cogginsResult: TestResult | null;
}

/** The vaccines a buyer assumes are covered whatever the seller's plan says. */
const CORE_VACCINES: readonly CareItemKey[] = ['vaccination:influenza', 'vaccination:tetanus'];

export function healthSummary(input: CarePlanInput): HealthSummary {
  // The core vaccines are judged as if on, whatever the seller's plan says; their interval overrides still apply.
  const overrides = (input.overrides ?? []).map((o) => (CORE_VACCINES.includes(o.key) ? { ...o, enabled: true } : o));
  const plan = carePlan({ ...input, overrides });
  const records = input.records;
  const vaccines = plan.filter((i) => i.kind === 'vaccination' && i.enabled);
  const latest = <K extends HealthRecordKind>(kind: K, keep: (r: HealthRecordFacts<K>) => boolean = () => true) =>
    (records.filter((r) => r.kind === kind) as HealthRecordFacts<K>[]).filter(keep).sort(byDate).at(-1) ?? null;
  const lastCoggins = latest('test', (r) => r.details.testType === 'coggins');
  const cogginsResult = lastCoggins ? testResultOf(lastCoggins.details) : null;
  // The latest test decides; a negative one without an expiry leaves the last stated expiry of a negative test.
  const certificate = cogginsResult === 'negative' ? latest('test', (r) => r.details.testType === 'coggins' && testResultOf(r.details) === 'negative' && !!r.details.expiresOn) : null;
  return {
    vaccinationsUpToDate: vaccines.length > 0 && vaccines.every((i) => i.status === 'ok' || i.status === 'due_soon'),
    lastVetCheck: latest('vet')?.date ?? null,
    cogginsValidUntil: certificate?.details.expiresOn ?? null,
    cogginsResult,
  };
}

/** Items needing action (first, whatever the window), then those with a due date within `withinDays` of today (or overdue), soonest first. */
export function dueItems(plan: readonly CareItemState[], today: string, withinDays: number): CareItemState[] {
  const until = plusDays(today, withinDays);
  return plan
    .filter((i) => i.enabled && (i.status === 'action_needed' || (i.nextDue !== null && i.nextDue <= until)))
    .sort(dueOrder);
}

/** Needing action first (no due date), then by due date, then by key. */
export function dueOrder(a: Pick<CareItemState, 'nextDue' | 'key'>, b: Pick<CareItemState, 'nextDue' | 'key'>): number {
  return (a.nextDue ?? '').localeCompare(b.nextDue ?? '') || a.key.localeCompare(b.key);
}

// ---------------------------------------------------------------------------------------
// Validation (every problem names the field; the API answers 400 with them)
// ---------------------------------------------------------------------------------------

export interface Problem {
  field: string;
  message: string;
}

/** The latest date accepted as "not in the future": the UTC date plus the tolerance. */
export function latestRecordDate(todayUtc: string): string {
  return plusDays(todayUtc, HEALTH.futureToleranceDays);
}

export function intervalProblem(days: number): string | null {
  if (!Number.isInteger(days)) return 'must be a whole number of days';
  if (days < HEALTH.minIntervalDays) return `must be at least ${HEALTH.minIntervalDays} day`;
  if (days > HEALTH.maxIntervalDays) return `must be at most 5 years (${HEALTH.maxIntervalDays} days)`;
  return null;
}

/** A record's own rules: care already given (not in the future), dates that follow its date. */
export function recordProblems(r: Pick<HealthRecordFacts, 'kind' | 'date' | 'details'>, todayUtc: string): Problem[] {
  const problems: Problem[] = [];
  if (r.date > latestRecordDate(todayUtc)) {
    problems.push({ field: 'date', message: r.kind === 'vaccination' ? `a dose cannot be given in the future (${r.date} is after ${todayUtc})` : `must not be in the future (${r.date} is after ${todayUtc})` });
  }
  const after = (field: string, value: string | null | undefined, what: string) => {
    if (value && value <= r.date) problems.push({ field: `details.${field}`, message: `${what} must be after the record's date ${r.date}` });
  };
  const d = r.details as unknown as Record<string, unknown>;
  if (r.kind === 'test' || r.kind === 'document') after('expiresOn', d.expiresOn as string | null, 'the expiry date');
  if (r.kind === 'vet') {
    const ends = d.medicationEndsOn as string | null | undefined;
    if (ends && ends < r.date) problems.push({ field: 'details.medicationEndsOn', message: `the medication cannot end before the visit of ${r.date}` });
    after('followUpOn', d.followUpOn as string | null, 'the follow-up date');
  }
  if (r.kind === 'vaccination' && !(d.diseases as unknown[]).length) problems.push({ field: 'details.diseases', message: 'name at least one disease the vaccine covers' });
  return problems;
}

/**
 * Dose numbers must follow the dates within a course: dose n after dose n−1, before dose
 * n+1 (a dose 2 dated before its dose 1 is a typing error). Compared with the horse's other
 * numbered doses against each of the same diseases within a year of it (doses further
 * away belong to another course: a primary course spans at most 92 days); a history
 * missing the neighbouring dose passes.
 */
export function doseOrderProblem(
  dose: { date: string; doseNumber?: number | null; diseases: readonly VaccineDisease[] },
  others: readonly { date: string; doseNumber?: number | null; diseases: readonly VaccineDisease[] }[],
): string | null {
  const n = dose.doseNumber;
  if (!n) return null;
  const near = (o: { date: string }) => Math.abs(daysBetweenDates(o.date, dose.date)) <= SAME_COURSE_DAYS;
  for (const disease of dose.diseases) {
    const same = others.filter((o) => o.diseases.includes(disease) && o.doseNumber && near(o));
    const previous = same.filter((o) => o.doseNumber === n - 1);
    if (n > 1 && previous.length && previous.every((o) => o.date >= dose.date)) {
      const first = previous.map((o) => o.date).sort()[0];
      return `dose ${n} (${dose.date}) must come after dose ${n - 1} (${first}) for ${DISEASE_TITLES[disease]}`;
    }
    const following = same.filter((o) => o.doseNumber === n + 1);
    if (following.length && following.every((o) => o.date <= dose.date)) {
      const last = following.map((o) => o.date).sort().at(-1);
      return `dose ${n} (${dose.date}) must come before dose ${n + 1} (${last}) for ${DISEASE_TITLES[disease]}`;
    }
  }
  return null;
}
const SAME_COURSE_DAYS = 365;

// ---------------------------------------------------------------------------------------
// Competition eligibility (equine influenza)
// ---------------------------------------------------------------------------------------

export const COMPETITION_RULES = ['fei', 'bef'] as const;
export type CompetitionRules = (typeof COMPETITION_RULES)[number];

export const ELIGIBILITY_RULE_IDS = ['primary-course', 'first-booster', 'booster-interval', 'recent-booster', 'seven-days'] as const;
export type EligibilityRuleId = (typeof ELIGIBILITY_RULE_IDS)[number];

interface InfluenzaRuleSet {
  name: string;
  primaryMinDays: number;
  primaryMaxDays: number;
  /** First booster window after dose 2: min days, and the limit as months or days. */
  firstBoosterMinDays: number;
  firstBoosterMax: { months: number } | { days: number };
  /** Later boosters at most this many months apart. */
  boosterMaxMonths: number;
  /** The last dose before the event at most this long ago. */
  recent: { months: number; days: number };
  /** No dose within this many days of the event, the event day included. */
  quietDays: number;
}

/**
 * FEI Veterinary Regulations art. 1003 and the BEF national rules (DOMAIN.md). FEI:
 * primary 21–92 days apart, first booster within 7 calendar months of dose 2, boosters ≤ 12
 * months apart, a dose within 6 months + 21 days before the event and none in the 7 days
 * before it. BEF: primary 21–92 days, first booster 150–215 days after dose 2, then ≤ 1 year.
 */
export const INFLUENZA_RULES: Record<CompetitionRules, InfluenzaRuleSet> = {
  fei: {
    name: 'FEI Veterinary Regulations art. 1003',
    primaryMinDays: 21,
    primaryMaxDays: 92,
    firstBoosterMinDays: 0,
    firstBoosterMax: { months: 7 },
    boosterMaxMonths: 12,
    recent: { months: 6, days: 21 },
    quietDays: 7,
  },
  bef: {
    name: 'BEF (UK national) influenza rules',
    primaryMinDays: 21,
    primaryMaxDays: 92,
    firstBoosterMinDays: 150,
    firstBoosterMax: { days: 215 },
    boosterMaxMonths: 12,
    recent: { months: 12, days: 0 },
    quietDays: 7,
  },
};

export interface EligibilityFailure {
  rule: EligibilityRuleId;
  message: string;
}

export interface EligibilityResult {
  rules: CompetitionRules;
  regulation: string;
  date: string;
  eligible: boolean;
  failures: EligibilityFailure[];
  /** The latest date a booster can be given so the horse may compete on `date` (null when a booster would not help). */
  boosterNeededBy: string | null;
  /** When eligible: the last event date the current doses cover. */
  validUntil: string | null;
  /** The influenza doses the answer is based on (on or before the event date). */
  doses: (VaccineDose & { position: number })[];
}

const firstBoosterLimit = (dose2: string, r: InfluenzaRuleSet) =>
  'months' in r.firstBoosterMax ? plusMonths(dose2, r.firstBoosterMax.months) : plusDays(dose2, r.firstBoosterMax.days);

/**
 * May a horse compete on `date` under FEI or BEF influenza rules, from its recorded
 * influenza doses? Every rule that fails is named; `boosterNeededBy` says by when a booster
 * makes it eligible (the day the quiet period before the event starts).
 */
export function influenzaEligibility(allDoses: readonly VaccineDose[], date: string, rules: CompetitionRules): EligibilityResult {
  const r = INFLUENZA_RULES[rules];
  const failures: EligibilityFailure[] = [];
  const course = vaccineCourse(allDoses.filter((d) => d.date <= date));
  const doses = course.doses;
  const lastQuietDay = plusDays(date, -r.quietDays);
  const result = (boosterHelps: boolean, validUntil: string | null = null): EligibilityResult => ({
    rules,
    regulation: r.name,
    date,
    eligible: failures.length === 0,
    failures,
    boosterNeededBy: failures.length && boosterHelps ? lastQuietDay : null,
    validUntil: failures.length ? null : validUntil,
    doses,
  });

  if (!doses.length) {
    failures.push({ rule: 'primary-course', message: `no influenza vaccination recorded on or before ${date}: a primary course of two doses ${r.primaryMinDays}–${r.primaryMaxDays} days apart is needed` });
    return result(false);
  }
  if (!course.primaryRecorded) {
    failures.push({ rule: 'primary-course', message: `the primary course is not on record (the first recorded dose, ${doses[0].date}, is dose ${doses[0].position}); record doses 1 and 2` });
    return result(false);
  }
  const [d1, d2] = doses;
  if (!d2) {
    failures.push({ rule: 'primary-course', message: `only dose 1 (${d1.date}) of the primary course is recorded; dose 2 is due ${r.primaryMinDays}–${r.primaryMaxDays} days after it (${plusDays(d1.date, r.primaryMinDays)} to ${plusDays(d1.date, r.primaryMaxDays)})` });
    return result(false);
  }
  const gap = daysBetweenDates(d1.date, d2.date);
  if (gap < r.primaryMinDays || gap > r.primaryMaxDays) {
    failures.push({ rule: 'primary-course', message: `dose 2 (${d2.date}) was given ${gap} days after dose 1 (${d1.date}); the primary course needs ${r.primaryMinDays}–${r.primaryMaxDays} days: start a new primary course` });
    return result(false);
  }

  let boosterHelps = true;
  const d3 = doses[2];
  const limit = firstBoosterLimit(d2.date, r);
  const limitText = 'months' in r.firstBoosterMax ? `${r.firstBoosterMax.months} months` : `${r.firstBoosterMax.days} days`;
  if (d3) {
    const after = daysBetweenDates(d2.date, d3.date);
    if (d3.date > limit || after < r.firstBoosterMinDays) {
      const window = r.firstBoosterMinDays ? `${r.firstBoosterMinDays} days to ${limitText}` : `within ${limitText}`;
      const from = r.firstBoosterMinDays ? `${plusDays(d2.date, r.firstBoosterMinDays)} to ` : 'by ';
      failures.push({ rule: 'first-booster', message: `the first booster (${d3.date}) was given ${after} days after dose 2 (${d2.date}); it must be ${window} after it (${from}${limit}): start a new primary course` });
      boosterHelps = false;
    }
  } else if (date > limit) {
    failures.push({ rule: 'first-booster', message: `the first booster was due by ${limit} (${limitText} after dose 2 of ${d2.date}) and is not recorded: start a new primary course` });
    boosterHelps = false;
  }
  for (let i = 3; i < doses.length; i++) {
    const prev = doses[i - 1];
    const maxDate = plusMonths(prev.date, r.boosterMaxMonths);
    if (doses[i].date > maxDate) {
      failures.push({ rule: 'booster-interval', message: `the booster of ${doses[i].date} came more than ${r.boosterMaxMonths} months after the one of ${prev.date} (due by ${maxDate}): start a new primary course` });
      boosterHelps = false;
      break;
    }
  }

  const last = doses.at(-1)!;
  // Covered by the last dose until: recent-dose window, and, before the first booster, the first-booster limit.
  const recentUntil = plusDays(plusMonths(last.date, r.recent.months), r.recent.days);
  const coveredUntil = d3 ? recentUntil : [recentUntil, limit].sort()[0];
  const recentText = r.recent.days ? `${r.recent.months} months + ${r.recent.days} days` : `${r.recent.months} months`;
  if (date > recentUntil) {
    failures.push({ rule: 'recent-booster', message: `the last dose (${last.date}) is more than ${recentText} before ${date} (it covers events until ${recentUntil}); a booster is needed by ${lastQuietDay}` });
  }
  const tooRecent = doses.filter((d) => daysBetweenDates(d.date, date) < r.quietDays);
  if (tooRecent.length) {
    const latest = tooRecent.at(-1)!;
    failures.push({ rule: 'seven-days', message: `a dose was given on ${latest.date}, within ${r.quietDays} days of ${date} (event day included); the horse may compete from ${plusDays(latest.date, r.quietDays)}` });
    if (failures.length === 1) boosterHelps = false;
  }
  return result(boosterHelps, coveredUntil);
}

/** The influenza doses of a horse's records. */
export function influenzaDoses(records: readonly HealthRecordFacts[]): VaccineDose[] {
  return vaccinationDoses(records, 'influenza');
}

// ---------------------------------------------------------------------------------------
// Reminders (the per-horse workflow)
// ---------------------------------------------------------------------------------------

export const REMINDER_STAGES = ['reminder', 'overdue'] as const;
export type ReminderStage = (typeof REMINDER_STAGES)[number];

/** An item of the plan with a due date, and the stages already sent for that due date. */
export interface ReminderItem {
  key: CareItemKey;
  title: string;
  dueDate: string;
  sent: readonly ReminderStage[];
  /** The recipients' lead time for this item (else the step's default). */
  leadDays?: number;
}

/**
 * Epoch ms of `date` (YYYY-MM-DD) at `timeUtc` (HH:MM, UTC) plus `offsetSeconds`: the
 * subject's place in the reminder window (domain/reminder-window.ts; 0 = exactly at `timeUtc`).
 */
export function atTimeOfDay(date: string, timeUtc: string, offsetSeconds = 0): number {
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(timeUtc)) throw new Error(`reminder time must be HH:MM (UTC), got "${timeUtc}"`);
  if (!isReminderOffset(offsetSeconds)) throw new Error(`reminder offset must be whole seconds inside the reminder window, got ${offsetSeconds}`);
  return Date.parse(`${date}T${timeUtc}:00.000Z`) + offsetSeconds * 1000;
}

/**
 * The reminder goes out `leadDays` before the due date; the escalation the day after it (the
 * item is then overdue); both at `timeUtc` + `offsetSeconds` (the horse's second in the
 * reminder window, from the snapshot: the workflow, its query and the send's re-check must
 * all pass the same one).
 */
export function reminderTimes(dueDate: string, leadDays: number, timeUtc: string = HEALTH.reminderTimeUtc, offsetSeconds = 0): { remindAt: number; overdueAt: number } {
  return { remindAt: atTimeOfDay(plusDays(dueDate, -leadDays), timeUtc, offsetSeconds), overdueAt: atTimeOfDay(plusDays(dueDate, 1), timeUtc, offsetSeconds) };
}

export interface ReminderStep {
  /** Sends due now; an item already overdue gets its escalation only (a stale "due soon" would say the wrong thing). */
  send: { key: CareItemKey; dueDate: string; stage: ReminderStage }[];
  /** The next moment something falls due (epoch ms), or null when nothing is planned. */
  wakeAt: number | null;
}

/** What the reminder workflow does at `nowMs`: send what is due, then sleep until `wakeAt` (times as `reminderTimes` gives them). */
export function reminderStep(items: readonly ReminderItem[], leadDays: number, nowMs: number, timeUtc: string = HEALTH.reminderTimeUtc, offsetSeconds = 0): ReminderStep {
  const send: ReminderStep['send'] = [];
  let wakeAt: number | null = null;
  const later = (t: number) => {
    if (wakeAt === null || t < wakeAt) wakeAt = t;
  };
  for (const item of items) {
    const { remindAt, overdueAt } = reminderTimes(item.dueDate, item.leadDays ?? leadDays, timeUtc, offsetSeconds);
    const sentReminder = item.sent.includes('reminder');
    const sentOverdue = item.sent.includes('overdue');
    if (nowMs >= overdueAt) {
      if (!sentOverdue) send.push({ key: item.key, dueDate: item.dueDate, stage: 'overdue' });
      continue;
    }
    if (nowMs >= remindAt) {
      if (!sentReminder) send.push({ key: item.key, dueDate: item.dueDate, stage: 'reminder' });
    } else if (!sentReminder) later(remindAt);
    if (!sentOverdue) later(overdueAt);
  }
  send.sort((a, b) => a.dueDate.localeCompare(b.dueDate) || a.key.localeCompare(b.key));
  return { send, wakeAt };
}

/** Idempotency key of one send: once per (horse, item, due date, stage). */
export function reminderKey(horseId: string, key: CareItemKey, dueDate: string, stage: ReminderStage): string {
  return `health:${horseId}:${key}:${dueDate}:${stage}`;
}

export function healthReminderMessage(
  item: { key: CareItemKey; dueDate: string },
  horseName: string,
  stage: ReminderStage,
): { subject: string; text: string } {
  const title = careItemTitle(item.key);
  if (stage === 'overdue') {
    return {
      subject: `${horseName}: ${title} is overdue (due ${item.dueDate})`,
      text: `${horseName} — ${title} was due on ${item.dueDate} and nothing has been recorded since.\n\nBook it, or record it in the health book if it was done. If the plan does not fit this horse, change it with your vet.\n\nHorse Tempo reminds; your vet decides.\n— The Horse Tempo team`,
    };
  }
  return {
    subject: `${horseName}: ${title} due on ${item.dueDate}`,
    text: `${horseName} — ${title} is due on ${item.dueDate}.\n\nRecord it in the health book once done; the next reminder follows from it.\n\nHorse Tempo reminds; your vet decides.\n— The Horse Tempo team`,
  };
}

// ---------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------

/** Photos (a passport page) and PDFs (a vet invoice, a lab report): the types a health book takes, with their file extension. */
export const ATTACHMENT_TYPES = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'application/pdf': 'pdf' } as const;
export type AttachmentType = keyof typeof ATTACHMENT_TYPES;
export const isAttachmentType = (t: string): t is AttachmentType => Object.hasOwn(ATTACHMENT_TYPES, t);

const startsWith = (head: Uint8Array, bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b);

/** Do the first bytes match the declared type? (A renamed .exe is not a PDF.) */
export function attachmentBytesMatch(type: AttachmentType, head: Uint8Array): boolean {
  switch (type) {
    case 'image/jpeg':
      return startsWith(head, [0xff, 0xd8, 0xff]);
    case 'image/png':
      return startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'image/webp':
      return startsWith(head, [0x52, 0x49, 0x46, 0x46]) && startsWith(head, [0x57, 0x45, 0x42, 0x50], 8);
    case 'application/pdf':
      return startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d]);
  }
}

/** Storage key of an attachment, under the organization the horse belongs to. */
export function attachmentKey(organizationId: string, horseId: string, attachmentId: string, type: AttachmentType): string {
  return `orgs/${organizationId}/health/${horseId}/${attachmentId}.${ATTACHMENT_TYPES[type]}`;
}
