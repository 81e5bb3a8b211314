import { expect } from 'chai';
import {
  addDaysIso,
  buildTimeline,
  coverDateProblem,
  expectedFoalingDate,
  expectedGestationDays,
  foalGender,
  gestationMilestones,
  gestationReminderMessage,
  planAnchor,
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
    expect(ms['overdue-notice'].dueDay).to.equal(360);
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

  it('waits until the reminder time, sends while the milestone is still due, and marks it missed once its day has passed', () => {
    expect(reminderDecision(m, Date.parse('2025-03-13T07:59:59Z'))).to.equal('wait');
    expect(reminderDecision(m, Date.parse('2025-03-13T08:00:00Z'))).to.equal('send');
    expect(reminderDecision(m, Date.parse('2025-03-15T23:00:00Z'))).to.equal('send');
    expect(reminderDecision(m, Date.parse('2025-03-16T00:00:01Z'))).to.equal('missed');
  });

  it('moves the status on a check: negative ends, twins flags, positive confirms; an ended pregnancy stays ended', () => {
    expect(statusAfterCheck('tracking', 'negative')).to.equal('not_pregnant');
    expect(statusAfterCheck('tracking', 'twins')).to.equal('twins');
    expect(statusAfterCheck('tracking', 'positive')).to.equal('confirmed');
    expect(statusAfterCheck('twins', 'positive')).to.equal('confirmed');
    expect(statusAfterCheck('lost', 'positive')).to.equal('lost');
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

  it('refuses a cover date in the future or more than 400 days ago', () => {
    expect(coverDateProblem('2025-03-02', '2025-03-01')).to.equal('must not be in the future');
    expect(coverDateProblem(addDaysIso('2025-03-01', -401), '2025-03-01')).to.match(/400 days/);
    expect(coverDateProblem(addDaysIso('2025-03-01', -400), '2025-03-01')).to.equal(null);
    expect(coverDateProblem('2025-03-01', '2025-03-01')).to.equal(null);
  });

  it('records a filly as a mare and a colt as a stallion, and words reminders without prescribing', () => {
    expect(foalGender('filly')).to.equal('mare');
    expect(foalGender('colt')).to.equal('stallion');
    const msg = gestationReminderMessage(byId(plan())['ehv1-month-5'], 'Bella');
    expect(msg.subject).to.equal('Bella: EHV-1 vaccination, month 5');
    expect(msg.text).to.contain("your vet's call").and.contain('your vet decides');
  });
});
