import { expect } from 'chai';
import {
  ageInYears,
  atTimeOfDay,
  carePlan,
  careStatus,
  CARE_ITEM_KEYS,
  doseOrderProblem,
  dueItems,
  healthReminderMessage,
  healthSummary,
  influenzaEligibility,
  intervalProblem,
  isCareItemKey,
  isIsoDate,
  nextVaccineDose,
  plusDays,
  plusMonths,
  recordProblems,
  reminderKey,
  reminderStep,
  reminderTimes,
  shedderClass,
  vaccineCourse,
  type HealthRecordFacts,
  type HealthRecordKind,
  type HealthDetailsByKind,
  type CareItemKey,
  type VaccineDose,
  type PlanOverride,
  type TestResult,
} from '../../domain/health';

let seq = 0;
function rec<K extends HealthRecordKind>(kind: K, date: string, details: HealthDetailsByKind[K], createdById = 'u1'): HealthRecordFacts {
  seq += 1;
  return { id: `r${String(seq).padStart(4, '0')}`, kind, date, details, createdById, createdAt: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}Z` } as HealthRecordFacts;
}
const flu = (date: string, doseNumber?: number) => rec('vaccination', date, { diseases: ['influenza'], doseNumber: doseNumber ?? null });
const item = (plan: ReturnType<typeof carePlan>, key: CareItemKey) => {
  const found = plan.find((i) => i.key === key);
  if (!found) throw new Error(`no item ${key} in ${plan.map((i) => i.key).join(', ')}`);
  return found;
};
const TODAY = '2026-06-01';

describe('health book dates (domain)', () => {
  it('adds calendar months, clamping to the last day of a shorter month', () => {
    expect(plusMonths('2026-01-15', 6)).to.equal('2026-07-15');
    expect(plusMonths('2025-08-31', 6)).to.equal('2026-02-28');
    expect(plusMonths('2027-08-31', 6)).to.equal('2028-02-29');
    expect(plusMonths('2026-11-30', 3)).to.equal('2027-02-28');
    expect(plusMonths('2026-03-31', -1)).to.equal('2026-02-28');
    expect(plusMonths('2026-12-01', 12)).to.equal('2027-12-01');
  });

  it('counts age in whole years from the birthday itself', () => {
    expect(ageInYears('2021-06-01', '2026-05-31')).to.equal(4);
    expect(ageInYears('2021-06-01', '2026-06-01')).to.equal(5);
    expect(ageInYears('2020-02-29', '2021-02-28')).to.equal(0);
  });

  it('accepts real calendar dates only', () => {
    expect(isIsoDate('2026-02-28')).to.equal(true);
    expect(isIsoDate('2026-02-30')).to.equal(false);
    expect(isIsoDate('2026-2-3')).to.equal(false);
    expect(isIsoDate('tomorrow')).to.equal(false);
  });
});

describe('fecal egg count classes (domain)', () => {
  it('sorts horses into low (< 200 EPG), medium (200–500) and high (> 500) strongyle shedders', () => {
    expect(shedderClass(0)).to.equal('low');
    expect(shedderClass(199)).to.equal('low');
    expect(shedderClass(200)).to.equal('medium');
    expect(shedderClass(500)).to.equal('medium');
    expect(shedderClass(501)).to.equal('high');
  });
});

describe('care plan (domain)', () => {
  it('lists the routine items as never recorded for a horse with no records, with no due date', () => {
    const plan = carePlan({ records: [], today: TODAY });
    expect(plan.map((i) => i.key)).to.deep.equal(['farrier', 'dental', 'deworming', 'fecal_egg_count', 'vaccination:influenza', 'vaccination:tetanus']);
    for (const i of plan) expect(i).to.include({ status: 'never_recorded', nextDue: null, lastDone: null, enabled: true });
  });

  it('puts the farrier 6 weeks after the last visit, whatever the order records were entered in', () => {
    const plan = carePlan({ records: [rec('farrier', '2026-05-01', { work: 'shoes' }), rec('farrier', '2026-03-01', { work: 'trim' })], today: TODAY });
    expect(item(plan, 'farrier')).to.include({ lastDone: '2026-05-01', nextDue: '2026-06-12', status: 'due_soon', rule: 'every 6 weeks' });
  });

  it('takes an override interval instead of the default, and switching an item off removes its due date', () => {
    const records = [rec('farrier', '2026-05-01', { work: 'trim' })];
    expect(item(carePlan({ records, today: TODAY, overrides: [{ key: 'farrier', enabled: true, intervalDays: 56 }] }), 'farrier')).to.include({
      nextDue: '2026-06-26',
      intervalDays: 56,
      rule: 'every 8 weeks',
    });
    expect(item(carePlan({ records, today: TODAY, overrides: [{ key: 'farrier', enabled: false }] }), 'farrier')).to.include({ nextDue: null, status: 'off', enabled: false });
  });

  it('plans the dentist every 12 months for an adult and every 6 months under age 5 (age at the last exam)', () => {
    const exam = rec('dental', '2026-01-10', {});
    expect(item(carePlan({ birthDate: '2015-04-01', records: [exam], today: TODAY }), 'dental')).to.include({ nextDue: '2027-01-10', rule: 'every 12 months' });
    expect(item(carePlan({ birthDate: '2021-04-01', records: [exam], today: TODAY }), 'dental')).to.include({ nextDue: '2026-07-10' });
    expect(item(carePlan({ birthDate: '2021-01-10', records: [exam], today: TODAY }), 'dental').nextDue, 'turned 5 on the exam day').to.equal('2027-01-10');
    expect(item(carePlan({ birthDate: null, records: [exam], today: TODAY }), 'dental').nextDue, 'unknown age: adult').to.equal('2027-01-10');
    expect(item(carePlan({ birthDate: '2023-01-01', records: [exam], today: TODAY, overrides: [{ key: 'dental', enabled: true, intervalDays: 90 }] }), 'dental').nextDue).to.equal(
      '2026-04-10',
    );
  });

  it('deworms per the last fecal egg count class: low yearly, medium 6-monthly, high 3-monthly, none yet 6-monthly', () => {
    const dewormed = rec('deworming', '2026-03-01', { drugClass: 'macrocyclic_lactone' });
    const adult = '2015-01-01';
    const withFec = (epg: number | null) =>
      item(carePlan({ birthDate: adult, records: [dewormed, ...(epg === null ? [] : [rec('fecal_egg_count', '2026-02-15', { eggsPerGram: epg })])], today: TODAY }), 'deworming');
    expect(withFec(null)).to.include({ nextDue: '2026-09-01' });
    expect(withFec(null).rule).to.contain('no fecal egg count yet');
    expect(withFec(150)).to.include({ nextDue: '2027-03-01' });
    expect(withFec(150).rule).to.contain('low shedder');
    expect(withFec(350).nextDue).to.equal('2026-09-01');
    expect(withFec(900)).to.include({ nextDue: '2026-06-01', status: 'due_soon' });
  });

  it('uses the latest fecal egg count when a horse changes class', () => {
    const records = [
      rec('deworming', '2026-03-01', { drugClass: 'benzimidazole' }),
      rec('fecal_egg_count', '2025-09-01', { eggsPerGram: 900 }),
      rec('fecal_egg_count', '2026-02-01', { eggsPerGram: 50 }),
    ];
    expect(item(carePlan({ birthDate: '2010-01-01', records, today: TODAY }), 'deworming').nextDue).to.equal('2027-03-01');
  });

  it('deworms horses under 3 every 3 months whatever their fecal egg count (the vet plans young horses)', () => {
    const records = [rec('deworming', '2026-03-01', { drugClass: 'benzimidazole' }), rec('fecal_egg_count', '2026-02-01', { eggsPerGram: 10 })];
    const dw = item(carePlan({ birthDate: '2024-05-01', records, today: TODAY }), 'deworming');
    expect(dw.nextDue).to.equal('2026-06-01');
    expect(dw.rule).to.contain("vet's plan");
  });

  it('plans fecal egg counts every 6 months (spring and autumn)', () => {
    expect(item(carePlan({ records: [rec('fecal_egg_count', '2026-04-01', { eggsPerGram: 300 })], today: TODAY }), 'fecal_egg_count').nextDue).to.equal('2026-10-01');
  });

  it('follows the influenza protocol: dose 2 four weeks after dose 1, first booster 6 months after dose 2, then yearly', () => {
    const plan = (records: HealthRecordFacts[]) => item(carePlan({ records, today: TODAY }), 'vaccination:influenza');
    expect(plan([flu('2026-01-05', 1)])).to.include({ nextDue: '2026-02-02', status: 'overdue' });
    expect(plan([flu('2026-01-05', 1)]).rule).to.contain('dose 2 of the primary course');
    expect(plan([flu('2026-01-05', 1), flu('2026-02-02', 2)])).to.include({ nextDue: '2026-08-02' });
    expect(plan([flu('2026-01-05', 1), flu('2026-02-02', 2)]).rule).to.contain('first booster');
    expect(plan([flu('2026-01-05', 1), flu('2026-02-02', 2), flu('2026-08-01')])).to.include({ nextDue: '2027-08-01', rule: 'booster every 12 months' });
  });

  it('reads unnumbered doses in date order (the first is dose 1) and a later dose 1 as a restarted course', () => {
    const plan = (records: HealthRecordFacts[]) => item(carePlan({ records, today: TODAY }), 'vaccination:influenza').nextDue;
    expect(plan([flu('2025-01-05'), flu('2025-02-02')])).to.equal('2025-08-02');
    // Course lapsed; restarted with a dose 1 in 2026: dose 2 is next.
    expect(plan([flu('2022-01-05', 1), flu('2022-02-02', 2), flu('2022-08-01'), flu('2026-05-01', 1)])).to.equal('2026-05-29');
  });

  it('lets an override set the booster interval (6-monthly influenza for competing horses)', () => {
    const records = [flu('2025-01-05', 1), flu('2025-02-02', 2), flu('2025-08-01', 3)];
    expect(item(carePlan({ records, today: TODAY, overrides: [{ key: 'vaccination:influenza', enabled: true, intervalDays: 182 }] }), 'vaccination:influenza').nextDue).to.equal(
      '2026-01-30',
    );
  });

  it('plans each disease of a combined vaccine separately', () => {
    const combined = rec('vaccination', '2026-01-10', { diseases: ['influenza', 'tetanus'], doseNumber: 1 });
    const plan = carePlan({ records: [combined], today: TODAY });
    expect(item(plan, 'vaccination:influenza').nextDue).to.equal('2026-02-07');
    expect(item(plan, 'vaccination:tetanus').nextDue).to.equal('2026-02-07');
  });

  it('plans rabies (single primary dose) yearly and EHV (3-dose primary) 6-monthly', () => {
    const plan = carePlan({
      records: [
        rec('vaccination', '2026-01-10', { diseases: ['rabies'], doseNumber: 1 }),
        rec('vaccination', '2025-01-10', { diseases: ['ehv'], doseNumber: 1 }),
        rec('vaccination', '2025-02-07', { diseases: ['ehv'], doseNumber: 2 }),
      ],
      today: TODAY,
    });
    expect(item(plan, 'vaccination:rabies').nextDue).to.equal('2027-01-10');
    expect(item(plan, 'vaccination:ehv').nextDue).to.equal('2025-03-07');
  });

  it('asks for a tetanus booster at a wound or surgery when the last dose is more than 6 months old, not when it is recent', () => {
    const tetanus = rec('vaccination', '2025-10-01', { diseases: ['tetanus'], doseNumber: 4 });
    const wound = (date: string) => rec('vet', date, { reason: 'wire cut', woundOrSurgery: true });
    const old = item(carePlan({ records: [tetanus, wound('2026-05-20')], today: TODAY }), 'vaccination:tetanus');
    expect(old).to.include({ nextDue: '2026-05-20', status: 'overdue' });
    expect(old.rule).to.contain('wound');
    expect(item(carePlan({ records: [tetanus, wound('2026-03-15')], today: TODAY }), 'vaccination:tetanus').nextDue, 'within 6 months').to.equal('2026-10-01');
    const afterBooster = [tetanus, wound('2026-05-20'), rec('vaccination', '2026-05-20', { diseases: ['tetanus'] })];
    expect(item(carePlan({ records: afterBooster, today: TODAY }), 'vaccination:tetanus').nextDue, 'booster given at the wound').to.equal('2027-05-20');
  });

  it('reminds of tests and documents at their expiry, and of a vet follow-up at its date', () => {
    const plan = carePlan({
      records: [
        rec('test', '2025-07-01', { testType: 'coggins', result: 'negative', expiresOn: '2026-07-01' }),
        rec('document', '2020-01-01', { documentType: 'passport', expiresOn: '2030-01-01' }),
        rec('document', '2026-01-01', { documentType: 'insurance' }),
        rec('vet', '2026-05-20', { reason: 'colic', followUpOn: '2026-06-03' }),
      ],
      today: TODAY,
    });
    expect(item(plan, 'test:coggins')).to.include({ nextDue: '2026-07-01', status: 'due_soon', kind: 'test' });
    expect(item(plan, 'document:passport')).to.include({ nextDue: '2030-01-01', status: 'ok' });
    expect(item(plan, 'document:insurance'), 'no expiry: nothing to remind').to.include({ nextDue: null, status: 'ok' });
    expect(item(plan, 'vet')).to.include({ nextDue: '2026-06-03', status: 'due_soon' });
  });

  it('shows a Coggins test that is not negative as needing action, with no due date from its expiry', () => {
    const coggins = (result: TestResult | null, date = '2026-04-01') => rec('test', date, { testType: 'coggins', result, expiresOn: plusDays(date, 365) });
    const positive = item(carePlan({ records: [coggins('negative', '2025-09-01'), coggins('positive')], today: TODAY }), 'test:coggins');
    expect(positive).to.include({ status: 'action_needed', nextDue: null, lastDone: '2026-04-01' });
    expect(positive.attention).to.match(/positive/i).and.match(/not a valid/i).and.match(/vet/i).and.match(/notifiable|reportable/i);
    for (const result of ['inconclusive', 'pending', 'unknown', null] as const) {
      const it = item(carePlan({ records: [coggins(result)], today: TODAY }), 'test:coggins');
      expect(it, String(result)).to.include({ status: 'action_needed', nextDue: null });
      expect(it.attention, String(result)).to.be.a('string').and.match(/not a valid/i);
    }
    expect(item(carePlan({ records: [coggins('negative')], today: TODAY }), 'test:coggins')).to.include({ status: 'ok', nextDue: '2027-04-01', attention: null });
    // Another test: a positive finding needs action; one without a result still follows its expiry.
    const other = (result: TestResult | null) => item(carePlan({ records: [rec('test', '2026-04-01', { testType: 'other', name: 'strangles ELISA', result, expiresOn: '2027-04-01' })], today: TODAY }), 'test:other');
    expect(other('positive')).to.include({ status: 'action_needed', nextDue: null });
    expect(other(null)).to.include({ status: 'ok', nextDue: '2027-04-01', attention: null });
    // Switched off stays off.
    expect(item(carePlan({ records: [coggins('positive')], overrides: [{ key: 'test:coggins', enabled: false }], today: TODAY }), 'test:coggins').status).to.equal('off');
  });

  it('puts items needing action first in the due view, whatever the window', () => {
    const plan = carePlan({ records: [rec('farrier', '2026-05-01', { work: 'trim' }), rec('test', '2026-04-01', { testType: 'coggins', result: 'positive', expiresOn: '2027-04-01' })], today: TODAY });
    expect(dueItems(plan, TODAY, 0).map((i) => i.key)).to.deep.equal(['test:coggins']);
    expect(dueItems(plan, TODAY, 30).map((i) => i.key)).to.deep.equal(['test:coggins', 'farrier']);
  });

  it('names the last record and who recorded it (the reminder goes to them)', () => {
    const plan = carePlan({ records: [rec('farrier', '2026-04-01', { work: 'trim' }, 'alice'), rec('farrier', '2026-05-01', { work: 'trim' }, 'bob')], today: TODAY });
    expect(item(plan, 'farrier')).to.include({ lastRecordedById: 'bob', lastDone: '2026-05-01' });
  });

  it('lists the keys the API accepts and refuses others', () => {
    expect(isCareItemKey('vaccination:influenza')).to.equal(true);
    expect(isCareItemKey('vaccination:other')).to.equal(false);
    expect(isCareItemKey('massage')).to.equal(false);
    expect(CARE_ITEM_KEYS).to.include('document:passport');
  });
});

describe('care status (domain)', () => {
  const s = (nextDue: string | null, lastDone: string | null = '2026-01-01', enabled = true) => careStatus({ enabled, lastDone, nextDue }, TODAY, 30);
  it('is overdue after the due date, due soon up to 30 days ahead (due today included), ok beyond', () => {
    expect(s('2026-05-31')).to.equal('overdue');
    expect(s('2026-06-01')).to.equal('due_soon');
    expect(s('2026-07-01')).to.equal('due_soon');
    expect(s('2026-07-02')).to.equal('ok');
    expect(s(null)).to.equal('ok');
    expect(s(null, null)).to.equal('never_recorded');
    expect(s('2026-05-01', '2026-01-01', false)).to.equal('off');
  });

  it('lists due and overdue items of a window soonest first', () => {
    const plan = carePlan({
      records: [rec('farrier', '2026-05-01', { work: 'trim' }), rec('dental', '2025-05-01', {}), rec('fecal_egg_count', '2026-05-15', { eggsPerGram: 10 })],
      today: TODAY,
    });
    expect(dueItems(plan, TODAY, 30).map((i) => [i.key, i.nextDue])).to.deep.equal([
      ['dental', '2026-05-01'],
      ['farrier', '2026-06-12'],
    ]);
    expect(dueItems(plan, TODAY, 200).map((i) => i.key)).to.deep.equal(['dental', 'farrier', 'fecal_egg_count']);
  });
});

describe('health record validation (domain)', () => {
  it('refuses a dose given in the future, with one day of tolerance for users east of UTC', () => {
    expect(recordProblems({ kind: 'vaccination', date: '2026-06-02', details: { diseases: ['influenza'] } }, TODAY)).to.deep.equal([]);
    const problems = recordProblems({ kind: 'vaccination', date: '2026-06-03', details: { diseases: ['influenza'] } }, TODAY);
    expect(problems).to.have.length(1);
    expect(problems[0].field).to.equal('date');
    expect(problems[0].message).to.contain('future');
    expect(recordProblems({ kind: 'farrier', date: '2027-01-01', details: { work: 'trim' } }, TODAY)[0].field).to.equal('date');
  });

  it('refuses an expiry, follow-up or medication end before the record date, and a vaccine covering nothing', () => {
    expect(recordProblems({ kind: 'test', date: '2026-05-01', details: { testType: 'coggins', expiresOn: '2026-05-01' } }, TODAY)[0].field).to.equal('details.expiresOn');
    expect(recordProblems({ kind: 'document', date: '2026-05-01', details: { documentType: 'passport', expiresOn: '2026-04-01' } }, TODAY)[0].field).to.equal('details.expiresOn');
    expect(recordProblems({ kind: 'vet', date: '2026-05-01', details: { reason: 'x', medicationEndsOn: '2026-04-30' } }, TODAY)[0].field).to.equal('details.medicationEndsOn');
    expect(recordProblems({ kind: 'vet', date: '2026-05-01', details: { reason: 'x', medicationEndsOn: '2026-05-01', followUpOn: '2026-05-10' } }, TODAY)).to.deep.equal([]);
    expect(recordProblems({ kind: 'vet', date: '2026-05-01', details: { reason: 'x', followUpOn: '2026-04-10' } }, TODAY)[0].field).to.equal('details.followUpOn');
    expect(recordProblems({ kind: 'vaccination', date: '2026-05-01', details: { diseases: [] } }, TODAY)[0].field).to.equal('details.diseases');
  });

  it('refuses a dose 2 dated before its dose 1, and a dose 1 dated after the dose 2 already recorded', () => {
    const dose1 = { date: '2026-03-01', doseNumber: 1, diseases: ['influenza' as const] };
    expect(doseOrderProblem({ date: '2026-02-01', doseNumber: 2, diseases: ['influenza'] }, [dose1])).to.contain('must come after dose 1 (2026-03-01)');
    expect(doseOrderProblem({ date: '2026-03-01', doseNumber: 2, diseases: ['influenza'] }, [dose1]), 'same day').to.contain('must come after');
    expect(doseOrderProblem({ date: '2026-03-29', doseNumber: 2, diseases: ['influenza'] }, [dose1])).to.equal(null);
    const dose2 = { date: '2026-03-29', doseNumber: 2, diseases: ['influenza' as const] };
    expect(doseOrderProblem({ date: '2026-04-10', doseNumber: 1, diseases: ['influenza'] }, [dose2])).to.contain('must come before dose 2');
    const oldDose1 = { date: '2020-01-01', doseNumber: 1, diseases: ['influenza' as const] };
    expect(doseOrderProblem({ date: '2026-02-01', doseNumber: 2, diseases: ['influenza'] }, [oldDose1, dose1]), 'second course').to.contain('must come after dose 1 (2026-03-01)');
  });

  it('compares doses of the same disease only, and lets a new course start after an old one', () => {
    const oldCourse = [
      { date: '2020-01-01', doseNumber: 1, diseases: ['influenza' as const] },
      { date: '2020-02-01', doseNumber: 2, diseases: ['influenza' as const] },
    ];
    expect(doseOrderProblem({ date: '2026-01-01', doseNumber: 1, diseases: ['influenza'] }, oldCourse)).to.equal(null);
    expect(doseOrderProblem({ date: '2026-02-01', doseNumber: 2, diseases: ['influenza'] }, [...oldCourse, { date: '2026-01-01', doseNumber: 1, diseases: ['influenza'] }])).to.equal(null);
    expect(doseOrderProblem({ date: '2019-01-01', doseNumber: 2, diseases: ['tetanus'] }, oldCourse)).to.equal(null);
    expect(doseOrderProblem({ date: '2019-01-01', doseNumber: null, diseases: ['influenza'] }, oldCourse), 'unnumbered booster').to.equal(null);
  });

  it('accepts plan intervals from 1 day to 5 years only', () => {
    expect(intervalProblem(0)).to.contain('at least 1 day');
    expect(intervalProblem(-3)).to.contain('at least 1 day');
    expect(intervalProblem(1)).to.equal(null);
    expect(intervalProblem(1826)).to.equal(null);
    expect(intervalProblem(1827)).to.contain('5 years');
    expect(intervalProblem(2.5)).to.contain('whole');
  });
});

describe('vaccine courses (domain)', () => {
  it('numbers the doses of the current course and says whether the primary course is on record', () => {
    expect(vaccineCourse([])).to.deep.equal({ doses: [], primaryRecorded: false });
    const c = vaccineCourse([{ date: '2025-02-01' }, { date: '2025-01-01' }]);
    expect(c.doses.map((d) => [d.date, d.position])).to.deep.equal([
      ['2025-01-01', 1],
      ['2025-02-01', 2],
    ]);
    expect(c.primaryRecorded).to.equal(true);
    const fromBooster = vaccineCourse([{ date: '2025-01-01', doseNumber: 5 }, { date: '2026-01-01' }]);
    expect(fromBooster.primaryRecorded).to.equal(false);
    expect(fromBooster.doses.map((d) => d.position)).to.deep.equal([5, 6]);
  });

  it('gives no next dose without any, and the override only replaces the booster rhythm', () => {
    expect(nextVaccineDose('influenza', [])).to.equal(null);
    expect(nextVaccineDose('influenza', [{ date: '2026-01-01', doseNumber: 1 }], 10)!.due, 'primary gap stays').to.equal('2026-01-29');
    expect(nextVaccineDose('influenza', [{ date: '2026-01-01', doseNumber: 3 }], 10)!.due).to.equal('2026-01-11');
  });
});

describe('competition eligibility: influenza (domain)', () => {
  // A horse with a valid primary course and a first booster; events are tested against it.
  const d1 = '2025-01-10';
  const doses = (...list: (string | [string, number])[]): VaccineDose[] => list.map((d) => (Array.isArray(d) ? { date: d[0], doseNumber: d[1] } : { date: d }));

  describe('FEI (Veterinary Regulations art. 1003)', () => {
    it('accepts dose 2 on day 21 and day 92 after dose 1, refuses it on day 20 and day 93 (the rule fails, by name)', () => {
      for (const [day, ok] of [
        [20, false],
        [21, true],
        [92, true],
        [93, false],
      ] as const) {
        const dose2 = plusDays(d1, day);
        const r = influenzaEligibility(doses([d1, 1], [dose2, 2]), plusDays(dose2, 30), 'fei');
        expect(r.eligible, `day ${day}`).to.equal(ok);
        if (!ok) {
          expect(r.failures.map((f) => f.rule)).to.deep.equal(['primary-course']);
          expect(r.failures[0].message).to.contain(`${day} days after dose 1`);
          expect(r.boosterNeededBy, 'a booster does not fix a primary course').to.equal(null);
        }
      }
    });

    it('accepts the last booster 6 months + 21 days before the event, refuses it at 6 months + 22 days and says by when a booster is needed', () => {
      const history = doses([d1, 1], ['2025-02-10', 2], ['2025-08-01', 3], '2026-01-15');
      const limit = plusDays(plusMonths('2026-01-15', 6), 21); // 2026-08-05
      expect(limit).to.equal('2026-08-05');
      const ok = influenzaEligibility(history, limit, 'fei');
      expect(ok).to.include({ eligible: true, validUntil: '2026-08-05', boosterNeededBy: null });
      const late = influenzaEligibility(history, plusDays(limit, 1), 'fei');
      expect(late.eligible).to.equal(false);
      expect(late.failures.map((f) => f.rule)).to.deep.equal(['recent-booster']);
      expect(late.failures[0].message).to.contain('6 months + 21 days');
      expect(late.boosterNeededBy).to.equal('2026-07-30');
    });

    it('refuses a horse vaccinated 5 days before the event, accepts one vaccinated 7 days before (event day counts)', () => {
      const base = ['2025-02-10', 2] as [string, number];
      const five = influenzaEligibility(doses([d1, 1], base, ['2025-08-01', 3], '2026-03-10'), '2026-03-15', 'fei');
      expect(five.eligible).to.equal(false);
      expect(five.failures.map((f) => f.rule)).to.deep.equal(['seven-days']);
      expect(five.failures[0].message).to.contain('may compete from 2026-03-17');
      expect(five.boosterNeededBy).to.equal(null);
      expect(influenzaEligibility(doses([d1, 1], base, ['2025-08-01', 3], '2026-03-08'), '2026-03-15', 'fei').eligible).to.equal(true);
      expect(influenzaEligibility(doses([d1, 1], base, ['2025-08-01', 3], '2026-03-15'), '2026-03-15', 'fei').eligible, 'on the event day').to.equal(false);
    });

    it('lets a horse compete 7 days after dose 2 of its primary course, not 6', () => {
      const primary = doses([d1, 1], ['2025-02-10', 2]);
      expect(influenzaEligibility(primary, '2025-02-17', 'fei').eligible).to.equal(true);
      expect(influenzaEligibility(primary, '2025-02-16', 'fei').failures.map((f) => f.rule)).to.deep.equal(['seven-days']);
    });

    it('needs the first booster within 7 calendar months of dose 2', () => {
      const primary = doses([d1, 1], ['2025-02-10', 2]);
      // No booster yet: covered until the earlier of 6 months + 21 days and 7 months.
      expect(influenzaEligibility(primary, '2025-08-31', 'fei')).to.include({ eligible: true, validUntil: '2025-08-31' });
      const missing = influenzaEligibility(primary, '2025-09-15', 'fei');
      expect(missing.failures.map((f) => f.rule)).to.include('first-booster');
      expect(missing.boosterNeededBy, 'a new primary course is needed').to.equal(null);
      expect(influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-09-10'), '2025-10-01', 'fei').eligible, 'exactly 7 months').to.equal(true);
      const late = influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-09-11'), '2025-10-01', 'fei');
      expect(late.failures.map((f) => f.rule)).to.deep.equal(['first-booster']);
    });

    it('needs later boosters at most 12 months apart (a lapse means a new primary course)', () => {
      const lapsed = influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-08-01', '2026-08-02'), '2026-09-01', 'fei');
      expect(lapsed.failures.map((f) => f.rule)).to.deep.equal(['booster-interval']);
      expect(influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-08-01', '2026-08-01'), '2026-09-01', 'fei').eligible).to.equal(true);
    });

    it('refuses a horse with no influenza dose, one dose only, or a history that starts with a booster', () => {
      expect(influenzaEligibility([], '2026-05-01', 'fei').failures[0].rule).to.equal('primary-course');
      const one = influenzaEligibility(doses([d1, 1]), '2025-03-01', 'fei');
      expect(one.failures[0].message).to.contain('only dose 1');
      const booster = influenzaEligibility(doses(['2026-01-01', 4]), '2026-03-01', 'fei');
      expect(booster.failures[0].message).to.contain('not on record');
    });

    it('ignores doses after the event date and restarts from a later dose 1', () => {
      const history = doses([d1, 1], ['2025-02-10', 2], ['2025-06-01', 3], ['2025-12-01', 4]);
      expect(influenzaEligibility(history, '2025-07-01', 'fei').doses).to.have.length(3);
      const restarted = doses(['2019-01-01', 1], ['2019-02-01', 2], ['2026-01-01', 1], ['2026-02-01', 2]);
      expect(influenzaEligibility(restarted, '2026-03-01', 'fei').eligible).to.equal(true);
    });

    it('names every failing rule at once', () => {
      const r = influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-08-01', '2026-07-27'), '2026-07-30', 'fei');
      expect(r.failures.map((f) => f.rule)).to.deep.equal(['seven-days']);
      const two = influenzaEligibility(doses([d1, 1], ['2025-02-10', 2], '2025-08-01'), '2026-07-30', 'fei');
      expect(two.failures.map((f) => f.rule)).to.deep.equal(['recent-booster']);
    });
  });

  describe('BEF (UK national)', () => {
    it('needs the first booster 150–215 days after dose 2', () => {
      const primary = doses([d1, 1], ['2025-02-10', 2]);
      expect(influenzaEligibility([...primary, { date: plusDays('2025-02-10', 150) }], '2025-09-01', 'bef').eligible).to.equal(true);
      expect(influenzaEligibility([...primary, { date: plusDays('2025-02-10', 215) }], '2025-10-01', 'bef').eligible).to.equal(true);
      const early = influenzaEligibility([...primary, { date: plusDays('2025-02-10', 149) }], '2025-09-01', 'bef');
      expect(early.failures.map((f) => f.rule)).to.deep.equal(['first-booster']);
      expect(early.failures[0].message).to.contain('150 days to 215 days');
      expect(influenzaEligibility([...primary, { date: plusDays('2025-02-10', 216) }], '2025-10-01', 'bef').eligible).to.equal(false);
    });

    it('accepts a last booster up to a year before the event (where FEI needs 6 months + 21 days)', () => {
      const history = doses([d1, 1], ['2025-02-10', 2], '2025-08-01');
      expect(influenzaEligibility(history, '2026-05-01', 'bef').eligible).to.equal(true);
      expect(influenzaEligibility(history, '2026-05-01', 'fei').eligible).to.equal(false);
      expect(influenzaEligibility(history, '2026-08-01', 'bef')).to.include({ eligible: true, validUntil: '2026-08-01' });
      const late = influenzaEligibility(history, '2026-08-02', 'bef');
      expect(late.failures.map((f) => f.rule)).to.deep.equal(['recent-booster']);
      expect(late.boosterNeededBy).to.equal('2026-07-26');
    });

    it('applies the same primary course and 7-day rules', () => {
      expect(influenzaEligibility(doses([d1, 1], [plusDays(d1, 93), 2]), '2025-06-01', 'bef').failures[0].rule).to.equal('primary-course');
      expect(influenzaEligibility(doses([d1, 1], ['2025-02-10', 2]), '2025-02-14', 'bef').failures[0].rule).to.equal('seven-days');
    });
  });
});

describe('health reminders (domain)', () => {
  const due = '2026-06-12';
  const { remindAt, overdueAt } = reminderTimes(due, 3);
  const items = (sent: ('reminder' | 'overdue')[] = []) => [{ key: 'farrier' as const, title: 'Farrier', dueDate: due, sent }];

  it('reminds lead days before the due date at 08:00 UTC and escalates at 08:00 the day after it', () => {
    expect(new Date(remindAt).toISOString()).to.equal('2026-06-09T08:00:00.000Z');
    expect(new Date(overdueAt).toISOString()).to.equal('2026-06-13T08:00:00.000Z');
    expect(new Date(reminderTimes(due, 0).remindAt).toISOString()).to.equal('2026-06-12T08:00:00.000Z');
  });

  it('reminds and escalates at the configured time of day (REMINDER_TIME_UTC) instead of 08:00, and refuses a malformed time', () => {
    const at = reminderTimes(due, 3, '17:45');
    expect(new Date(at.remindAt).toISOString()).to.equal('2026-06-09T17:45:00.000Z');
    expect(new Date(at.overdueAt).toISOString()).to.equal('2026-06-13T17:45:00.000Z');
    expect(reminderStep(items(), 3, at.remindAt - 1, '17:45')).to.deep.equal({ send: [], wakeAt: at.remindAt });
    expect(() => reminderTimes(due, 3, '25:00')).to.throw(/HH:MM/);
  });

  it("reminds and escalates at the time of day plus the horse's offset in the reminder window, never before it; offset 0 is the old instant", () => {
    const at = reminderTimes(due, 3, '08:00', 1087);
    expect(new Date(at.remindAt).toISOString()).to.equal('2026-06-09T08:18:07.000Z');
    expect(new Date(at.overdueAt).toISOString()).to.equal('2026-06-13T08:18:07.000Z');
    expect(reminderTimes(due, 3, '08:00', 0)).to.deep.equal({ remindAt, overdueAt });
    expect(atTimeOfDay('2026-06-09', '08:00', 59)).to.equal(Date.parse('2026-06-09T08:00:59.000Z'));
    // The step plans the same instants: asleep a second before, the reminder at the offset, then the escalation's.
    expect(reminderStep(items(), 3, at.remindAt - 1000, '08:00', 1087)).to.deep.equal({ send: [], wakeAt: at.remindAt });
    expect(reminderStep(items(), 3, remindAt, '08:00', 1087)).to.deep.equal({ send: [], wakeAt: at.remindAt });
    expect(reminderStep(items(), 3, at.remindAt, '08:00', 1087)).to.deep.equal({ send: [{ key: 'farrier', dueDate: due, stage: 'reminder' }], wakeAt: at.overdueAt });
    expect(reminderStep(items(['reminder']), 3, at.overdueAt - 1, '08:00', 1087)).to.deep.equal({ send: [], wakeAt: at.overdueAt });
    for (const bad of [-1, 1.5, 720 * 60]) expect(() => reminderTimes(due, 3, '08:00', bad), String(bad)).to.throw(/reminder offset/);
  });

  it('sleeps until the reminder, sends it once, then sleeps until the escalation, which it sends once', () => {
    expect(reminderStep(items(), 3, remindAt - 1)).to.deep.equal({ send: [], wakeAt: remindAt });
    expect(reminderStep(items(), 3, remindAt)).to.deep.equal({ send: [{ key: 'farrier', dueDate: due, stage: 'reminder' }], wakeAt: overdueAt });
    expect(reminderStep(items(['reminder']), 3, remindAt + 1000)).to.deep.equal({ send: [], wakeAt: overdueAt });
    expect(reminderStep(items(['reminder']), 3, overdueAt)).to.deep.equal({ send: [{ key: 'farrier', dueDate: due, stage: 'overdue' }], wakeAt: null });
    expect(reminderStep(items(['reminder', 'overdue']), 3, overdueAt + 1e9)).to.deep.equal({ send: [], wakeAt: null });
  });

  it('sends only the escalation for an item found already overdue (no stale "due soon")', () => {
    expect(reminderStep(items(), 3, overdueAt + 5 * 86_400_000).send).to.deep.equal([{ key: 'farrier', dueDate: due, stage: 'overdue' }]);
  });

  it('wakes for the earliest of several items and sends those due, earliest due date first', () => {
    const many = [
      { key: 'dental' as const, title: 'Dental', dueDate: '2026-07-01', sent: [] },
      { key: 'farrier' as const, title: 'Farrier', dueDate: '2026-06-02', sent: [] },
      { key: 'fecal_egg_count' as const, title: 'FEC', dueDate: '2026-06-01', sent: [] },
    ];
    const step = reminderStep(many, 2, Date.parse('2026-05-31T09:00:00Z'));
    expect(step.send.map((s) => s.key)).to.deep.equal(['fecal_egg_count', 'farrier']);
    expect(new Date(step.wakeAt!).toISOString()).to.equal('2026-06-02T08:00:00.000Z');
  });

  it('keys each send by horse, item, due date and stage', () => {
    expect(reminderKey('h1', 'vaccination:influenza', '2026-06-01', 'overdue')).to.equal('health:h1:vaccination:influenza:2026-06-01:overdue');
  });

  it('writes texts naming the horse, the care and the date, that remind without prescribing', () => {
    const m = healthReminderMessage({ key: 'dental', dueDate: '2026-07-01' }, 'Comet', 'reminder');
    expect(m.subject).to.equal('Comet: Dental exam due on 2026-07-01');
    expect(m.text).to.contain('your vet decides');
    expect(healthReminderMessage({ key: 'test:coggins', dueDate: '2026-07-01' }, 'Comet', 'overdue').subject).to.equal('Comet: Coggins (EIA) test expiry is overdue (due 2026-07-01)');
  });
});

describe('healthSummary (what a marketplace listing shows of the health book)', () => {
  const both = (date: string, doseNumber: number) => rec('vaccination', date, { diseases: ['influenza', 'tetanus'], doseNumber });
  const summaryOf = (records: HealthRecordFacts[], overrides: PlanOverride[] = []) => healthSummary({ birthDate: '2015-05-01', records, overrides, today: TODAY });

  it('is up to date when influenza, tetanus and every other enabled vaccine item are ok or due soon, not when one is overdue or never recorded', () => {
    const course = [both('2026-03-01', 1), both('2026-03-29', 2)];
    expect(summaryOf(course).vaccinationsUpToDate).to.equal(true);
    expect(summaryOf([flu('2026-03-01', 1), flu('2026-03-29', 2)]).vaccinationsUpToDate, 'tetanus never recorded').to.equal(false);
    expect(summaryOf([both('2024-03-01', 1), both('2024-03-29', 2)]).vaccinationsUpToDate, 'first booster long overdue').to.equal(false);
    const tetanusOff: PlanOverride[] = [{ key: 'vaccination:tetanus', enabled: false, intervalDays: null }];
    expect(summaryOf([flu('2026-03-01', 1), flu('2026-03-29', 2)], tetanusOff).vaccinationsUpToDate, 'tetanus switched off and never given: not up to date for a buyer').to.equal(false);
    expect(summaryOf(course, tetanusOff).vaccinationsUpToDate, 'tetanus switched off but given: up to date').to.equal(true);
    const allOff: PlanOverride[] = [tetanusOff[0], { key: 'vaccination:influenza', enabled: false, intervalDays: null }];
    expect(summaryOf([rec('vaccination', '2026-03-01', { diseases: ['rabies'], doseNumber: 1 })], allOff).vaccinationsUpToDate, 'core vaccines switched off, only rabies given').to.equal(false);
    const rabiesOff: PlanOverride[] = [{ key: 'vaccination:rabies', enabled: false, intervalDays: null }];
    expect(summaryOf([...course, rec('vaccination', '2020-03-01', { diseases: ['rabies'], doseNumber: 1 })], rabiesOff).vaccinationsUpToDate, 'a switched-off optional vaccine does not count').to.equal(true);
  });

  it('names the last vet check and the expiry of the latest Coggins test that states one (even a past one)', () => {
    const records = [
      rec('vet', '2026-01-10', { reason: 'check' }),
      rec('vet', '2026-04-02', { reason: 'lameness' }),
      rec('test', '2025-05-01', { testType: 'coggins', result: 'negative', expiresOn: '2026-05-01' }),
      rec('test', '2026-02-01', { testType: 'coggins', result: 'negative', expiresOn: null }),
      rec('test', '2026-03-01', { testType: 'other', expiresOn: '2027-03-01' }),
    ];
    expect(summaryOf(records)).to.deep.include({ lastVetCheck: '2026-04-02', cogginsValidUntil: '2026-05-01', cogginsResult: 'negative' });
    expect(summaryOf([])).to.deep.equal({ vaccinationsUpToDate: false, lastVetCheck: null, cogginsValidUntil: null, cogginsResult: null });
  });

  it('gives no Coggins validity from a test that is not negative: a positive EIA test is no certificate, and it supersedes an older negative one', () => {
    const negative = rec('test', '2025-09-01', { testType: 'coggins', result: 'negative', expiresOn: '2026-09-01' });
    expect(summaryOf([negative])).to.deep.include({ cogginsValidUntil: '2026-09-01', cogginsResult: 'negative' });
    const positive = rec('test', '2026-04-01', { testType: 'coggins', result: 'positive', expiresOn: '2027-04-01' });
    expect(summaryOf([positive]), 'positive, with an expiry typed in').to.deep.include({ cogginsValidUntil: null, cogginsResult: 'positive' });
    expect(summaryOf([negative, positive]), 'a later positive test voids the earlier certificate').to.deep.include({ cogginsValidUntil: null, cogginsResult: 'positive' });
    for (const result of ['inconclusive', 'pending', 'unknown'] as const) {
      expect(summaryOf([negative, rec('test', '2026-04-01', { testType: 'coggins', result, expiresOn: '2027-04-01' })]), result).to.deep.include({ cogginsValidUntil: null, cogginsResult: result });
    }
    expect(summaryOf([rec('test', '2026-04-01', { testType: 'coggins', expiresOn: '2027-04-01' })]), 'no result on record').to.deep.include({ cogginsValidUntil: null, cogginsResult: 'unknown' });
  });
});
