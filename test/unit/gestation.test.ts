import { expect } from 'chai';
import {
  addDaysIso,
  buildTimeline,
  coverDateProblem,
  currentFailures,
  doneMilestones,
  eventDateProblem,
  expectedFoalingDate,
  expectedGestationDays,
  foalGender,
  gestationMilestones,
  gestationReminderMessage,
  missedMilestones,
  overdueDays,
  planAnchor,
  recordedTimeline,
  reminderDeadline,
  reminderDecision,
  statusAfterCheck,
} from '../../domain/gestation';

const plan = (over: Partial<Parameters<typeof gestationMilestones>[0]> = {}) =>
  gestationMilestones({ anchorDate: '2025-03-01', anchor: 'cover', leadDays: 2, ...over });
const byId = (ms: ReturnType<typeof plan>) => Object.fromEntries(ms.map((m) => [m.id, m]));

describe('gestation milestones (domain)', () => {
  it('derives the default milestones from the cover date with the days of DOMAIN.md', () => {
    const ms = byId(plan());
    const days = Object.fromEntries(Object.values(ms).map((m) => [m.id, m.dueDay]));
    expect(days).to.deep.equal({
      'check-pregnancy': 14,
      'check-heartbeat': 25,
      'check-confirmation': 45,
      'ehv1-month-5': 150,
      'ehv1-month-7': 210,
      'ehv1-month-9': 270,
      'prefoaling-boosters': 300,
      'foaling-box': 305,
      'foaling-watch': 320,
      'expected-foaling': 340,
      'overdue-notice': 360,
      'overdue-escalation': 370,
      'overdue-vet-exam': 390,
    });
    expect(ms['check-pregnancy'].dueDate).to.equal('2025-03-15');
    expect(ms['expected-foaling'].dueDate).to.equal(addDaysIso('2025-03-01', 340));
    expect(ms['expected-foaling'].title).to.contain('320–370');
  });

  it('sets every reminder the lead time before its due date, at 08:00 UTC, except overdue alerts which go out on their day', () => {
    const ms = byId(plan({ leadDays: 5 }));
    expect(ms['check-pregnancy']).to.include({ dueDate: '2025-03-15', reminderDate: '2025-03-10', reminderAt: '2025-03-10T08:00:00.000Z', kind: 'vet_check' });
    expect(ms['overdue-notice'].reminderDate).to.equal(ms['overdue-notice'].dueDate);
    expect(byId(plan({ leadDays: 0 }))['check-pregnancy'].reminderDate).to.equal('2025-03-15');
  });

  it('sends reminders at the plan\'s time of day (REMINDER_TIME_UTC) when given, and refuses a malformed one', () => {
    expect(byId(plan({ leadDays: 5, reminderTimeUtc: '06:30' }))['check-pregnancy'].reminderAt).to.equal('2025-03-10T06:30:00.000Z');
    expect(() => plan({ leadDays: 5, reminderTimeUtc: '6:30' })).to.throw(/HH:MM/);
  });

  it("sends every reminder (overdue alerts too) at the plan's time of day plus the gestation's offset in the reminder window; absent = the old instant", () => {
    const spread = byId(plan({ leadDays: 5, reminderTimeUtc: '06:30', reminderOffsetSeconds: 722 }));
    expect(spread['check-pregnancy']).to.include({ reminderDate: '2025-03-10', reminderAt: '2025-03-10T06:42:02.000Z' });
    expect(spread['overdue-notice'].reminderAt).to.equal(`${spread['overdue-notice'].reminderDate}T06:42:02.000Z`);
    expect(plan({ reminderOffsetSeconds: 0 })).to.deep.equal(plan());
    // The same offset shifts every milestone alike: the order and the deadlines follow.
    const all = plan({ reminderOffsetSeconds: 722 });
    expect(all.map((m) => m.id)).to.deep.equal(plan().map((m) => m.id));
    const ms = byId(all);
    expect(reminderDeadline(ms['overdue-notice'], all)).to.equal(ms['overdue-escalation'].reminderAt);
    expect(reminderDecision(ms['check-pregnancy'], Date.parse(ms['check-pregnancy'].reminderAt) - 1000, all)).to.equal('wait');
    expect(reminderDecision(ms['check-pregnancy'], Date.parse(ms['check-pregnancy'].reminderAt), all)).to.equal('send');
    for (const bad of [-1, 0.5, 720 * 60]) expect(() => plan({ reminderOffsetSeconds: bad }), String(bad)).to.throw(/reminderOffsetSeconds/);
  });

  it('returns the milestones in reminder order, each with id, title, description, kind and dates', () => {
    const ms = plan({ options: { fetalSexing: true, ehv1Month3: true, rotavirus: true, hasCaslick: true } });
    const times = ms.map((m) => m.reminderAt);
    expect(times).to.deep.equal([...times].sort());
    expect(new Set(ms.map((m) => m.id)).size).to.equal(ms.length);
    for (const m of ms) expect(m).to.include.keys('id', 'title', 'description', 'kind', 'dueDay', 'dueDate', 'reminderDate', 'reminderAt', 'optional');
  });

  it('adds optional milestones only when switched on: sexing day 60, EHV-1 month 3, rotavirus 240/270/300, Caslick 326', () => {
    const base = plan().map((m) => m.id);
    expect(base).to.not.include.members(['check-sexing', 'ehv1-month-3', 'rotavirus-month-8', 'caslick-opening']);
    const all = byId(plan({ options: { fetalSexing: true, ehv1Month3: true, rotavirus: true, hasCaslick: true } }));
    expect(all['check-sexing'].dueDay).to.equal(60);
    expect(all['ehv1-month-3'].dueDay).to.equal(90);
    expect([all['rotavirus-month-8'].dueDay, all['rotavirus-month-9'].dueDay, all['rotavirus-month-10'].dueDay]).to.deep.equal([240, 270, 300]);
    expect(all['caslick-opening'].dueDay).to.equal(326);
    expect(all['check-sexing'].optional).to.equal(true);
    expect(all['check-pregnancy'].optional).to.equal(false);
  });

  it("centres the foaling window on the mare's own history, clamped to 320–370, and moves the foaling preparations with it", () => {
    expect(expectedGestationDays()).to.equal(340);
    expect(expectedGestationDays([350, 354])).to.equal(352);
    expect(expectedGestationDays([395, 399])).to.equal(370);
    expect(expectedGestationDays([120])).to.equal(340); // not a gestation length: ignored
    const ms = byId(plan({ previousGestationDays: [350, 354], options: { hasCaslick: true } }));
    expect(ms['expected-foaling'].dueDay).to.equal(352);
    expect(ms['prefoaling-boosters'].dueDay).to.equal(312);
    expect(ms['caslick-opening'].dueDay).to.equal(338);
    // overdue alerts at max(360, centre+20) / max(370, centre+30) / max(390, centre+50)
    expect(ms['overdue-notice'].dueDay).to.equal(372);
    expect(expectedFoalingDate({ anchorDate: '2025-03-01', anchor: 'cover', previousGestationDays: [350, 354] })).to.equal(addDaysIso('2025-03-01', 352));
  });

  it('anchors on the ovulation date when recorded, else on the last cover date', () => {
    expect(planAnchor(['2025-03-01', '2025-03-03'])).to.deep.equal({ anchorDate: '2025-03-03', anchor: 'cover' });
    expect(planAnchor(['2025-03-03', '2025-03-01'], '2025-03-04')).to.deep.equal({ anchorDate: '2025-03-04', anchor: 'ovulation' });
    expect(() => planAnchor([])).to.throw(/at least one cover date/);
  });

  it('rejects a malformed anchor date or a negative lead time', () => {
    expect(() => plan({ anchorDate: '01/03/2025' })).to.throw(/YYYY-MM-DD/);
    expect(() => plan({ leadDays: -1 })).to.throw(/leadDays/);
  });
});

describe('gestation rules (domain)', () => {
  const m = byId(plan())['check-pregnancy']; // due 2025-03-15, reminder 2025-03-13T08:00Z

  const all = plan();

  it('waits until the reminder time, sends while the milestone is still due, and marks it missed once its day has passed', () => {
    expect(reminderDecision(m, Date.parse('2025-03-13T07:59:59Z'), all)).to.equal('wait');
    expect(reminderDecision(m, Date.parse('2025-03-13T08:00:00Z'), all)).to.equal('send');
    expect(reminderDecision(m, Date.parse('2025-03-15T23:00:00Z'), all)).to.equal('send');
    expect(reminderDecision(m, Date.parse('2025-03-16T00:00:01Z'), all)).to.equal('missed');
  });

  it('sends the latest overdue alert that has come due even late, and marks only the ones it supersedes missed', () => {
    const ms = byId(all);
    const at = (day: number, time = '12:00:00Z') => Date.parse(`${addDaysIso('2025-03-01', day)}T${time}`);
    // Registered at day 395: the day-390 vet exam goes out, the notice and the escalation are superseded.
    expect(reminderDecision(ms['overdue-vet-exam'], at(395), all)).to.equal('send');
    expect(reminderDecision(ms['overdue-notice'], at(395), all)).to.equal('missed');
    expect(reminderDecision(ms['overdue-escalation'], at(395), all)).to.equal('missed');
    // Worker down on day 360, back on day 365: the notice still goes out (the escalation is not due yet).
    expect(reminderDecision(ms['overdue-notice'], at(365), all)).to.equal('send');
    expect(reminderDecision(ms['overdue-escalation'], at(365), all)).to.equal('wait');
    expect(reminderDecision(ms['overdue-notice'], at(370, '07:59:59Z'), all)).to.equal('send');
    expect(reminderDecision(ms['overdue-notice'], at(370, '08:00:00Z'), all)).to.equal('missed');
  });

  it('gives a send until the end of its due date, an overdue alert until the next one supersedes it, the last one without a deadline', () => {
    const ms = byId(all);
    expect(reminderDeadline(m, all)).to.equal('2025-03-16T00:00:00.000Z');
    expect(reminderDeadline(ms['overdue-notice'], all)).to.equal(ms['overdue-escalation'].reminderAt);
    expect(reminderDeadline(ms['overdue-escalation'], all)).to.equal(ms['overdue-vet-exam'].reminderAt);
    expect(reminderDeadline(ms['overdue-vet-exam'], all)).to.equal(null);
  });

  it('derives missed from the current plan: a milestone missed under the old cover date is upcoming again once re-planned into the future', () => {
    const now = Date.parse('2025-03-21T10:00:00Z'); // covered 20 days ago: day 14 has passed
    const old = plan();
    expect(missedMilestones(old, { sent: {}, done: [], failed: [] }, now)).to.deep.equal(['check-pregnancy']);
    const corrected = plan({ anchorDate: '2025-03-13' }); // 8 days ago: day 14 is in 6 days
    expect(missedMilestones(corrected, { sent: {}, done: [], failed: [] }, now)).to.deep.equal([]);
    expect(reminderDecision(byId(corrected)['check-pregnancy'], now, corrected)).to.equal('wait');
    // a failure recorded for the old due date does not apply to the new one
    expect(currentFailures(old, { 'check-pregnancy': '2025-03-15' })).to.deep.equal(['check-pregnancy']);
    expect(currentFailures(corrected, { 'check-pregnancy': '2025-03-15' })).to.deep.equal([]);
  });

  it('rebuilds the timeline from the records without calling a reminder that was due to be sent "missed"', () => {
    // Ended (lost) on 2025-03-14 at 10:00: check-pregnancy (reminder 03-13 08:00, due 03-15) was due to be sent, not missed.
    const tl = recordedTimeline(all, { sent: {}, done: [], ended: true }, Date.parse('2025-03-14T10:00:00Z'));
    const state = Object.fromEntries(tl.map((e) => [e.id, e.state]));
    expect(state['check-pregnancy']).to.equal('cancelled');
    expect(state['check-heartbeat']).to.equal('cancelled');
    const later = recordedTimeline(all, { sent: {}, done: [], ended: true }, Date.parse('2025-03-16T10:00:00Z'));
    expect(later.find((e) => e.id === 'check-pregnancy')!.state).to.equal('missed');
    const live = recordedTimeline(all, { sent: {}, done: [], ended: false }, Date.parse('2025-03-14T10:00:00Z'));
    expect(live.find((e) => e.id === 'check-pregnancy')!.state).to.equal('upcoming');
  });

  it('moves the status on a check: negative ends, twins flags, positive confirms; an ended pregnancy stays ended', () => {
    expect(statusAfterCheck('tracking', 'negative')).to.equal('not_pregnant');
    expect(statusAfterCheck('tracking', 'twins')).to.equal('twins');
    expect(statusAfterCheck('tracking', 'positive')).to.equal('confirmed');
    expect(statusAfterCheck('confirmed', 'twins')).to.equal('twins');
    expect(statusAfterCheck('lost', 'positive')).to.equal('lost');
  });

  it('keeps twins flagged when a later check (heartbeat, confirmation) is positive; only a negative check ends it', () => {
    expect(statusAfterCheck('twins', 'positive')).to.equal('twins');
    expect(statusAfterCheck('twins', 'negative')).to.equal('not_pregnant');
  });

  it('marks the milestone of each non-negative check done, and the expected foaling once foaled', () => {
    const checks = [
      { kind: 'pregnancy', result: 'twins' },
      { kind: 'heartbeat', result: 'positive' },
      { kind: 'confirmation', result: 'negative' },
      { kind: 'other', result: 'positive' },
    ] as const;
    expect(doneMilestones(checks, 'twins')).to.deep.equal(['check-pregnancy', 'check-heartbeat']);
    expect(doneMilestones([], 'foaled')).to.deep.equal(['expected-foaling']);
  });

  it('builds a timeline where done beats sent, sent survives a re-plan, and upcoming becomes cancelled once ended', () => {
    const ms = plan();
    const tl = buildTimeline(ms, { sent: { 'check-pregnancy': '2025-03-13T08:00:00.000Z', 'check-heartbeat': '2025-03-24T08:00:00.000Z' }, done: ['check-heartbeat'], missed: ['check-confirmation'], failed: [], ended: true });
    const state = Object.fromEntries(tl.map((e) => [e.id, e.state]));
    expect(state['check-pregnancy']).to.equal('sent');
    expect(state['check-heartbeat']).to.equal('done');
    expect(state['check-confirmation']).to.equal('missed');
    expect(state['ehv1-month-5']).to.equal('cancelled');
    expect(tl[0].sentAt).to.equal('2025-03-13T08:00:00.000Z');
    const live = buildTimeline(ms, { sent: {}, done: [], missed: [], failed: [], ended: false });
    expect(live.every((e) => e.state === 'upcoming')).to.equal(true);
  });

  it('refuses a cover date in the future or more than 400 days ago; "today" may be up to one day after the UTC date (users east of UTC)', () => {
    expect(coverDateProblem('2025-03-02', '2025-03-01')).to.equal(null);
    expect(coverDateProblem('2025-03-03', '2025-03-01')).to.equal('must not be in the future');
    expect(eventDateProblem('2025-03-02', '2025-03-01')).to.equal(null);
    expect(eventDateProblem('2025-03-03', '2025-03-01')).to.equal('must not be in the future');
    expect(coverDateProblem(addDaysIso('2025-03-01', -401), '2025-03-01')).to.match(/400 days/);
    expect(coverDateProblem(addDaysIso('2025-03-01', -400), '2025-03-01')).to.equal(null);
    expect(coverDateProblem('2025-03-01', '2025-03-01')).to.equal(null);
  });

  it("keeps the overdue alerts consistent with the window shown when the mare's history moves the centre", () => {
    expect(overdueDays(340)).to.deep.equal({ notice: 360, escalation: 370, vetExam: 390 });
    expect(overdueDays(320)).to.deep.equal({ notice: 360, escalation: 370, vetExam: 390 });
    expect(overdueDays(368)).to.deep.equal({ notice: 388, escalation: 398, vetExam: 418 });
    const ms = byId(plan({ previousGestationDays: [368, 368] }));
    expect(ms['expected-foaling'].title).to.contain('348–398');
    expect([ms['overdue-notice'].dueDay, ms['overdue-escalation'].dueDay, ms['overdue-vet-exam'].dueDay]).to.deep.equal([388, 398, 418]);
    expect(ms['overdue-notice'].title).to.equal('No foaling recorded by day 388: talk to your vet');
    expect(ms['overdue-escalation'].title).to.equal('Day 398 and no foaling recorded: call your vet');
    expect(ms['overdue-vet-exam'].title).to.equal('Day 418: vet exam to confirm the dates');
    for (const id of ['overdue-notice', 'overdue-escalation', 'overdue-vet-exam']) {
      const text = `${ms[id].title} ${ms[id].description}`;
      expect(text, id).to.not.match(/320–370|\b(360|370|390)\b/);
    }
    expect(ms['overdue-escalation'].description).to.contain('348–398');
    // the default plan keeps the DOMAIN.md days and words
    const def = byId(plan());
    expect(def['overdue-notice'].title).to.equal('No foaling recorded by day 360: talk to your vet');
    expect(def['overdue-escalation'].description).to.contain('320–370');
  });

  it('records a filly as a mare and a colt as a stallion, and words reminders without prescribing', () => {
    expect(foalGender('filly')).to.equal('mare');
    expect(foalGender('colt')).to.equal('stallion');
    const msg = gestationReminderMessage(byId(plan())['ehv1-month-5'], 'Bella');
    expect(msg.subject).to.equal('Bella: EHV-1 vaccination, month 5');
    expect(msg.text).to.contain("your vet's call").and.contain('your vet decides');
  });
});
