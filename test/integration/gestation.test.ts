import { expect } from 'chai';
import sinon from 'sinon';
import { ApplicationFailure } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerVerifiedUser } from '../support/http';
import { gestationWorkflowId } from '../../workflows/ids';
import { GestationIdKey, HorseIdKey, UserIdKey } from '../../workflows/search-attributes';
import { remindersChangedSignal } from '../../workflows/gestation/messages';
import { addDaysIso, dateOf } from '../../domain/gestation';
import { reminderOffsetSeconds } from '../../domain/reminder-window';
import { createGestationActivities } from '../../activities/gestation';
import { EmailProviderError, PermanentEmailError, ResendMailer, type Mailer } from '../../adapters/email/mailer';
import { createLogger } from '../../adapters/logger';
import { EmailOutbox, Notification, Gestation, ReminderLog, ReminderPreferences } from '../../entities';

describe('gestation: tracking through the HTTP API', () => {
  const today = () => dateOf(Date.now());
  const daysAgo = (n: number) => addDaysIso(today(), -n);

  const { stack, api } = useTestStack();

  async function owner() {
    const reg = await registerVerifiedUser(api, stack.resend, { firstName: 'Marie' });
    const token = reg.accessToken;
    const horse = async (name: string, gender: 'mare' | 'stallion' | 'gelding') => {
      const res = await api.post('/api/horses', { name, gender }, token);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      return res.body as { id: string; name: string };
    };
    return { reg, token, horse };
  }

  const workflow = async (gestationId: string) => (await stack.temporal.client()).workflow.getHandle(gestationWorkflowId(gestationId));
  const gestationActivities = (mailer: Mailer) => createGestationActivities({ orm: stack.orm, config: stack.config, logger: createLogger({ level: 'silent', name: 'test' }), mailer });
  /** The API's Temporal client (the one the router uses), to make Temporal calls fail for a test. */
  const apiTemporalClient = (): Promise<Client> => stack.deps.temporal.client();
  const mailsTo = (email: string) => stack.resend.emails.filter((m) => m.to.includes(email));

  it('registers a gestation, starts gestationTracking with search attributes, sends the reminder still due once by email and in-app, and shows the live timeline', async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    const mare = await horse('Bella', 'mare');
    const stallion = await horse('Zeus', 'stallion');
    const res = await api.post(
      '/api/gestations',
      { mareId: mare.id, stallionId: stallion.id, coverDates: [daysAgo(15), daysAgo(13)], method: 'ai_cooled', vet: { name: 'Dr Vet', contact: '+33 1 23 45 67 89' } },
      token,
    );
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const p = res.body;
    expect(p).to.include({ status: 'tracking', stallionId: stallion.id, method: 'ai_cooled', workflowId: gestationWorkflowId(p.id) });
    expect(p.mare).to.deep.equal({ id: mare.id, name: 'Bella' });
    expect(p.expectedFoalingDate).to.equal(addDaysIso(daysAgo(13), 340));
    expect(p.timeline.source).to.equal('workflow');
    expect(p.timeline.anchorDate).to.equal(daysAgo(13));
    const ids = p.timeline.milestones.map((m: { id: string }) => m.id);
    expect(ids.slice(0, 3)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation']);

    // check-pregnancy (day 14) is due tomorrow: its reminder goes out at once, once.
    const subject = 'Bella: Ultrasound: pregnancy and twins (days 14–16)';
    await eventually(async () => mailsTo(reg.email).some((m) => m.subject === subject), 20_000, 'the day-14 reminder email');
    const detail = await eventually(async () => {
      const d = await api.get(`/api/gestations/${p.id}`, token);
      return d.body.reminders.length === 1 && d.body;
    });
    expect(detail.reminders[0]).to.include({ milestoneId: 'check-pregnancy', dueDate: daysAgo(-1) });
    expect(detail.reminders[0].channels).to.deep.equal(['email', 'in_app']);
    const state = Object.fromEntries(detail.timeline.milestones.map((m: { id: string; state: string }) => [m.id, m.state]));
    expect(state).to.include({ 'check-pregnancy': 'sent', 'check-heartbeat': 'upcoming' });
    const notes = await api.get('/api/notifications?kind=gestation_reminder', token);
    expect(notes.body.items).to.have.length(1);
    expect(notes.body.items[0].data).to.include({ gestationId: p.id, milestoneId: 'check-pregnancy' });

    // Search attributes for ops.
    const description = await (await workflow(p.id)).describe();
    expect(description.typedSearchAttributes.get(GestationIdKey)).to.equal(p.id);
    expect(description.typedSearchAttributes.get(HorseIdKey)).to.equal(mare.id);
    expect(description.typedSearchAttributes.get(UserIdKey)).to.equal(reg.user.id);

    // A retried send (same gestation + milestone) finds the log and sends nothing more.
    const acts = gestationActivities(new ResendMailer(stack.config.RESEND_API_KEY!, stack.config.EMAIL_FROM, stack.config.RESEND_BASE_URL));
    const again = await acts.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: detail.timeline.milestones[0], plannedAt: detail.timeline.milestones[0].reminderAt });
    expect(again.outcome).to.equal('already-sent');
    // The answer carries what a read returns now: the workflow plans from it instead of reading again.
    expect('snapshot' in again && again.snapshot).to.deep.equal(await acts.loadGestation({ gestationId: p.id }));
    const em = stack.orm.em.fork();
    expect(await em.count(ReminderLog, { gestationId: p.id })).to.equal(1);
    expect(await em.count(EmailOutbox, { key: `gestation:${p.id}:check-pregnancy` })).to.equal(1);
    expect(await em.count(Notification, { key: `gestation:${p.id}:check-pregnancy` })).to.equal(1);
    expect(mailsTo(reg.email).filter((m) => m.subject === subject)).to.have.length(1);

    const list = await api.get('/api/gestations?active=true', token);
    expect(list.body.total).to.equal(1);
    expect(list.body.items[0].id).to.equal(p.id);

    // Another mare can't have two gestations tracked at once.
    const dup = await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Other', coverDates: [daysAgo(1)], method: 'natural' }, token);
    expect(dup.status).to.equal(409);
  });

  it('flags twins and alerts the owner to call the vet, then a loss ends the workflow and the rest is cancelled', async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    const mare = await horse('Tina', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'External Star', coverDates: [daysAgo(16)], method: 'natural' }, token)).body;

    const twins = await api.post(`/api/gestations/${p.id}/checks`, { kind: 'pregnancy', date: today(), result: 'twins' }, token);
    expect(twins.status, JSON.stringify(twins.body)).to.equal(201);
    expect(twins.body.status).to.equal('twins');
    expect(twins.body.checks).to.have.length(1);
    await eventually(async () => mailsTo(reg.email).some((m) => /twins .* call your vet now/.test(m.subject)), 20_000, 'the twins alert');
    const live = await (await workflow(p.id)).query('timeline');
    expect((live as { status: string }).status).to.equal('twins');
    // A positive heartbeat check afterwards keeps the twins flag.
    const heartbeat = await api.post(`/api/gestations/${p.id}/checks`, { kind: 'heartbeat', date: today(), result: 'positive' }, token);
    expect(heartbeat.status, JSON.stringify(heartbeat.body)).to.equal(201);
    expect(heartbeat.body.status).to.equal('twins');

    const loss = await api.post(`/api/gestations/${p.id}/loss`, { date: today() }, token);
    expect(loss.status).to.equal(200);
    expect(loss.body).to.include({ status: 'lost', outcomeDate: today() });
    const result = await (await workflow(p.id)).result();
    expect(result.status).to.equal('lost');
    const after = await api.get(`/api/gestations/${p.id}`, token);
    expect(after.body.timeline.source).to.equal('database');
    const state = Object.fromEntries(after.body.timeline.milestones.map((m: { id: string; state: string }) => [m.id, m.state]));
    expect(state).to.include({ 'check-pregnancy': 'done', 'ehv1-month-5': 'cancelled', 'expected-foaling': 'cancelled' });
    expect((await api.post(`/api/gestations/${p.id}/loss`, { date: today() }, token)).status).to.equal(409);
  });

  it('ends as not pregnant on a negative 14-day check', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Nora', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'X', coverDates: [daysAgo(14)], method: 'ai_frozen' }, token)).body;
    const neg = await api.post(`/api/gestations/${p.id}/checks`, { kind: 'pregnancy', date: today(), result: 'negative' }, token);
    expect(neg.status).to.equal(201);
    expect(neg.body).to.include({ status: 'not_pregnant', outcomeDate: today() });
    expect(neg.body.endedAt).to.be.a('string');
    expect((await (await workflow(p.id)).result()).status).to.equal('not_pregnant');
    expect((await api.post(`/api/gestations/${p.id}/checks`, { kind: 'heartbeat', date: today(), result: 'positive' }, token)).status).to.equal(409);
  });

  it("records a foaling: creates the foal's horse record with dam and sire, ends tracking; an external stallion becomes the sire's name", async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Luna', 'mare');
    const stallion = await horse('Apollo', 'stallion');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionId: stallion.id, coverDates: [daysAgo(335)], method: 'natural', options: { hasCaslick: true } }, token)).body;
    expect(p.timeline.milestones.find((m: { id: string }) => m.id === 'check-pregnancy').state).to.equal('missed');

    const res = await api.post(`/api/gestations/${p.id}/foaling`, { date: daysAgo(1), foal: { name: 'Luna Star', sex: 'filly', color: 'bay' } }, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.foal).to.include({ name: 'Luna Star', gender: 'mare', color: 'bay', birthDate: daysAgo(1), damId: mare.id, sireId: stallion.id, organizationId: p.organizationId });
    expect(res.body.gestation).to.include({ status: 'foaled', foalId: res.body.foal.id, outcomeDate: daysAgo(1) });
    expect((await api.get(`/api/horses/${res.body.foal.id}`, token)).body.damId).to.equal(mare.id);
    expect((await (await workflow(p.id)).result()).status).to.equal('foaled');

    const mare2 = await horse('Sky', 'mare');
    const p2 = (await api.post('/api/gestations', { mareId: mare2.id, stallionName: 'Famous Sire', coverDates: [daysAgo(330)], method: 'ai_frozen' }, token)).body;
    const colt = await api.post(`/api/gestations/${p2.id}/foaling`, { date: today(), foal: { name: 'Sky Boy', sex: 'colt' } }, token);
    expect(colt.body.foal).to.include({ gender: 'stallion', sireId: null, sireName: 'Famous Sire', damId: mare2.id });
  });

  it('reschedules every future reminder when the cover date is corrected', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Mira', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Y', coverDates: [daysAgo(3)], method: 'natural' }, token)).body;
    const patched = await api.patch(`/api/gestations/${p.id}`, { coverDate: daysAgo(5), options: { fetalSexing: true } }, token);
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body.coverDates).to.deep.equal([daysAgo(5)]);
    expect(patched.body.expectedFoalingDate).to.equal(addDaysIso(daysAgo(5), 340));
    const timeline = await eventually(async () => {
      const d = await api.get(`/api/gestations/${p.id}`, token);
      return d.body.timeline.anchorDate === daysAgo(5) && d.body.timeline.milestones.some((m: { id: string }) => m.id === 'check-sexing') && d.body.timeline;
    });
    expect(timeline.source).to.equal('workflow');
    const heartbeat = timeline.milestones.find((m: { id: string }) => m.id === 'check-heartbeat');
    expect(heartbeat).to.include({ dueDate: addDaysIso(daysAgo(5), 25), reminderDate: addDaysIso(daysAgo(5), 23), state: 'upcoming' });
    const next = await (await workflow(p.id)).query('nextReminder');
    expect(next).to.include({ id: 'check-pregnancy', dueDate: addDaysIso(daysAgo(5), 14) });
  });

  it('keeps reminder preferences per user: defaults, a new lead time for the plan, in-app only', async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    expect((await api.get('/api/notifications/preferences', token)).body).to.deep.equal({ leadDays: 2, email: true, inApp: true, isDefault: true });
    const none = await api.put('/api/notifications/preferences', { leadDays: 5, email: false, inApp: false }, token);
    expect(none.status).to.equal(422);
    expect(none.body.details[0].field).to.equal('email');
    const put = await api.put('/api/notifications/preferences', { leadDays: 5, email: false, inApp: true }, token);
    expect(put.body).to.deep.equal({ leadDays: 5, email: false, inApp: true, isDefault: false });

    const mare = await horse('Pia', 'mare');
    // day 14 is due in 4 days: with a 5-day lead its reminder was due yesterday at 08:00 (whatever the time of day now), sent in-app only.
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Z', coverDates: [daysAgo(10)], method: 'natural' }, token)).body;
    expect(p.timeline.leadDays).to.equal(5);
    expect(p.timeline.milestones[0]).to.include({ id: 'check-pregnancy', reminderDate: addDaysIso(daysAgo(10), 9) });
    const detail = await eventually(async () => {
      const d = await api.get(`/api/gestations/${p.id}`, token);
      return d.body.reminders.length === 1 && d.body;
    });
    expect(detail.reminders[0].channels).to.deep.equal(['in_app']);
    expect(mailsTo(reg.email).filter((m) => m.subject.startsWith('Pia:'))).to.have.length(0);

    // A new lead time moves the reminders of the running gestation.
    await api.put('/api/notifications/preferences', { leadDays: 10, email: true, inApp: true }, token);
    const moved = await eventually(async () => {
      const d = await api.get(`/api/gestations/${p.id}`, token);
      return d.body.timeline.leadDays === 10 && d.body.timeline;
    });
    expect(moved.milestones.find((m: { id: string }) => m.id === 'check-confirmation').reminderDate).to.equal(addDaysIso(daysAgo(10), 35));

    // The old /api/breeding paths still answer (same routes), marked deprecated with their successor.
    const legacyPrefs = await api.get('/api/breeding/preferences', token);
    expect(legacyPrefs.body).to.deep.equal({ leadDays: 10, email: true, inApp: true, isDefault: false });
    expect(legacyPrefs.headers.get('deprecation')).to.match(/^@\d+$/);
    expect(legacyPrefs.headers.get('link')).to.equal('</api/notifications/preferences>; rel="successor-version"');
    const legacyOne = await api.get(`/api/breeding/pregnancies/${p.id}`, token);
    expect(legacyOne.status).to.equal(200);
    expect(legacyOne.body.id).to.equal(p.id);
    expect(legacyOne.headers.get('link')).to.equal(`</api/gestations/${p.id}>; rel="successor-version"`);
    const legacyList = await api.get('/api/breeding/pregnancies?active=true', token);
    expect(legacyList.body.items.map((g: { id: string }) => g.id)).to.include(p.id);
    expect((await api.get(`/api/gestations/${p.id}`, token)).headers.get('deprecation')).to.equal(null);

    // The routes are documented from the same zod schemas.
    const spec = await api.get('/api/openapi.json');
    expect(spec.body.paths).to.include.keys('/api/gestations', '/api/gestations/{id}/foaling', '/api/notifications/preferences');
  });

  it('refuses bad input with a clear 4xx and changes nothing', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Rosa', 'mare');
    const stallion = await horse('Rex', 'stallion');
    const gelding = await horse('Gus', 'gelding');
    const other = await owner();
    const othersMare = await other.horse('Not yours', 'mare');
    const base = { stallionName: 'S', coverDates: [daysAgo(20)], method: 'natural' };

    // What the stored horses are (a stallion given as the mare) is a rule the document cannot state: 422.
    const asStallion = await api.post('/api/gestations', { ...base, mareId: stallion.id }, token);
    expect(asStallion.status).to.equal(422);
    expect(asStallion.body.message).to.equal('Invalid body.mareId: must be a mare (Rex is a stallion)');
    expect(asStallion.body.details[0]).to.include({ location: 'body', field: 'mareId' });
    const asGelding = await api.post('/api/gestations', { ...base, mareId: gelding.id }, token);
    expect(asGelding.status).to.equal(422);
    expect(asGelding.body.message).to.match(/mareId: must be a mare \(Gus is a gelding\)/);
    expect((await api.post('/api/gestations', { ...base, mareId: othersMare.id }, token)).status).to.equal(404);

    const future = await api.post('/api/gestations', { ...base, mareId: mare.id, coverDates: [daysAgo(-2)] }, token);
    // Dates relative to today are rules the document cannot state: 422, not 400.
    expect(future.status).to.equal(422);
    expect(future.body.message).to.equal('Invalid body.coverDates.0: must not be in the future');
    const old = await api.post('/api/gestations', { ...base, mareId: mare.id, coverDates: [daysAgo(401)] }, token);
    expect(old.status).to.equal(422);
    expect(old.body.message).to.match(/coverDates\.0: must not be more than 400 days ago/);
    const both = await api.post('/api/gestations', { ...base, mareId: mare.id, stallionId: stallion.id }, token);
    expect(both.status).to.equal(400);
    expect(both.body.details[0].field).to.equal('stallionId');
    const geldingSire = await api.post('/api/gestations', { mareId: mare.id, stallionId: gelding.id, coverDates: [daysAgo(20)], method: 'natural' }, token);
    expect(geldingSire.status).to.equal(422);
    expect(geldingSire.body.message).to.match(/stallionId: must be a stallion/);
    const badMethod = await api.post('/api/gestations', { ...base, mareId: mare.id, method: 'magic' }, token);
    expect(badMethod.status).to.equal(400);
    expect(badMethod.body.details[0].field).to.equal('method');
    expect((await api.get('/api/gestations', token)).body.total).to.equal(0);

    // A foaling before the cover date changes nothing: no foal, still tracking.
    const p = (await api.post('/api/gestations', { ...base, mareId: mare.id }, token)).body;
    const early = await api.post(`/api/gestations/${p.id}/foaling`, { date: daysAgo(21), foal: { name: 'Too Soon', sex: 'colt' } }, token);
    expect(early.status).to.equal(422);
    expect(early.body.message).to.equal(`Invalid body.date: a foaling must not be before the cover date (${daysAgo(20)})`);
    const horses = await api.get('/api/horses?q=Too%20Soon', token);
    expect(horses.body.total).to.equal(0);
    const still = await api.get(`/api/gestations/${p.id}`, token);
    expect(still.body.status).to.equal('tracking');
    expect(((await (await workflow(p.id)).query('timeline')) as { status: string }).status).to.equal('tracking');
    const futureCover = await api.patch(`/api/gestations/${p.id}`, { coverDate: daysAgo(-2) }, token);
    expect(futureCover.status).to.equal(422);
    expect((await api.get(`/api/gestations/${p.id}`, token)).body.coverDates).to.deep.equal([daysAgo(20)]);

    // Another organization's gestation is not found, whatever the verb.
    expect((await api.get(`/api/gestations/${p.id}`, other.token)).status).to.equal(404);
    expect((await api.post(`/api/gestations/${p.id}/loss`, { date: today() }, other.token)).status).to.equal(404);
    expect((await api.get(`/api/gestations/${p.id}`, token)).body.status).to.equal('tracking');
  });

  it("accepts today's date for users east of UTC (up to one day after the UTC date) for a cover and for an event, and refuses two days ahead", async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Kiri', 'mare');
    const tomorrow = daysAgo(-1);
    const p = await api.post('/api/gestations', { mareId: mare.id, stallionName: 'East', coverDates: [tomorrow], method: 'natural' }, token);
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
    expect(p.body.coverDates).to.deep.equal([tomorrow]);
    const loss = await api.post(`/api/gestations/${p.body.id}/loss`, { date: tomorrow }, token);
    expect(loss.status, JSON.stringify(loss.body)).to.equal(200);
    const tooFar = await api.post(`/api/gestations/${p.body.id}/checks`, { kind: 'pregnancy', date: daysAgo(-2), result: 'positive' }, token);
    expect(tooFar.status).to.equal(422);
    expect(tooFar.body.message).to.equal('Invalid body.date: must not be in the future');
  });

  it('registers at most one active gestation per mare, even for concurrent requests (409), and the database refuses a second one', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Dora', 'mare');
    const body = { mareId: mare.id, stallionName: 'Twice', coverDates: [daysAgo(3)], method: 'natural' };
    const answers = await Promise.all(Array.from({ length: 6 }, () => api.post('/api/gestations', body, token)));
    expect(answers.map((a) => a.status).sort()).to.deep.equal([201, 409, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.details[0]).to.include({ field: 'mareId' });
    const em = stack.orm.em.fork();
    const created = answers.find((a) => a.status === 201)!.body;
    expect(await em.count(Gestation, { mare: mare.id })).to.equal(1);

    // The partial unique index: a second active row is refused by the database itself...
    const row = await em.findOneOrFail(Gestation, { id: created.id });
    em.create(Gestation, {
      organization: row.organization,
      mare: row.mare,
      createdById: row.createdById,
      stallionName: 'Direct',
      coverDates: row.coverDates,
      method: 'natural',
      status: 'confirmed',
      expectedFoalingDate: row.expectedFoalingDate,
      options: {},
      previousGestationDays: [],
    } as never);
    const err = await em.flush().catch((e) => e);
    expect(err).to.be.instanceOf(UniqueConstraintViolationException);
    expect(String(err.message)).to.contain('gestations_mare_active_unique');
    // ...while an ended one does not block a new registration.
    expect((await api.post(`/api/gestations/${created.id}/loss`, { date: today() }, token)).status).to.equal(200);
    expect((await api.post('/api/gestations', body, token)).status).to.equal(201);
  });

  it('commits a change even when the workflow cannot be signalled (answers 200, logs it); the workflow catches up from the database when it next wakes', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Ines', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Sig', coverDates: [daysAgo(3)], method: 'natural' }, token)).body;
    const c = await apiTemporalClient();
    const getHandle = c.workflow.getHandle.bind(c.workflow);
    const stub = sinon.stub(c.workflow, 'getHandle').callsFake(((id: string) => {
      const handle = getHandle(id);
      return { ...handle, signal: async () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')) } as WorkflowHandle;
    }) as typeof c.workflow.getHandle);
    let patched;
    try {
      patched = await api.patch(`/api/gestations/${p.id}`, { coverDate: daysAgo(5) }, token);
    } finally {
      stub.restore();
    }
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body.coverDates).to.deep.equal([daysAgo(5)]);
    expect((await api.get(`/api/gestations/${p.id}`, token)).body.coverDates).to.deep.equal([daysAgo(5)]);
    // Any later wake-up (here a bare one) makes the workflow re-read the corrected date.
    await (await workflow(p.id)).signal(remindersChangedSignal, {});
    const timeline = await eventually(async () => {
      const d = await api.get(`/api/gestations/${p.id}`, token);
      return d.body.timeline.anchorDate === daysAgo(5) && d.body.timeline;
    });
    expect(timeline.source).to.equal('workflow');
  });

  it('answers 503 and keeps no gestation when the workflow cannot be started; a workflow whose gestation row is gone ends quietly', async function () {
    this.timeout(60_000);
    const { token, horse } = await owner();
    const mare = await horse('Orla', 'mare');
    const body = { mareId: mare.id, stallionName: 'Nobody', coverDates: [daysAgo(3)], method: 'natural' };
    const c = await apiTemporalClient();
    const stub = sinon.stub(c.workflow, 'start').rejects(new Error('14 UNAVAILABLE: connection refused'));
    let refused;
    try {
      refused = await api.post('/api/gestations', body, token);
    } finally {
      stub.restore();
    }
    expect(refused.status).to.equal(503);
    expect((await api.get(`/api/gestations?mareId=${mare.id}`, token)).body.total).to.equal(0);
    const p = await api.post('/api/gestations', body, token);
    expect(p.status, JSON.stringify(p.body)).to.equal(201);

    // The row disappears (as when the mare is deleted): the next wake-up ends the workflow quietly.
    await stack.orm.em.fork().nativeDelete(Gestation, { id: p.body.id });
    const handle = await workflow(p.body.id);
    await handle.signal(remindersChangedSignal, {});
    const result = await handle.result();
    expect(result).to.deep.include({ gone: true });
  });

  it('stops telling a member who left the organization: their gestation reminders and alerts go to the owners instead', async function () {
    this.timeout(60_000);
    const { reg: ownerReg, token: ownerToken, horse } = await owner();
    const member = await registerVerifiedUser(api, stack.resend, { firstName: 'Leaving' });
    const orgId = ownerReg.user.organizations[0].organizationId;
    const invitation = await api.post(`/api/organizations/${orgId}/invitations`, { email: member.email }, ownerToken);
    expect(invitation.status).to.equal(201);
    expect((await api.post(`/api/invitations/${invitation.body.id}/accept`, {}, member.accessToken)).status).to.equal(200);
    const mare = await horse('Nova', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Away', coverDates: [today()], method: 'natural' }, member.accessToken)).body;
    expect(p.organizationId).to.equal(orgId);
    expect((await api.delete(`/api/organizations/${orgId}/members/${member.user.id}`, ownerToken)).status).to.equal(204);

    const acts = gestationActivities(new ResendMailer(stack.config.RESEND_API_KEY!, stack.config.EMAIL_FROM, stack.config.RESEND_BASE_URL));
    const milestone = p.timeline.milestones.find((m: { id: string }) => m.id === 'check-pregnancy');
    // The workflow still names the member who registered the gestation.
    const out = await acts.sendGestationReminder({ gestationId: p.id, userId: member.user.id, milestone, plannedAt: milestone.reminderAt });
    expect(out).to.include({ outcome: 'sent' });
    await acts.sendGestationAlert({ gestationId: p.id, userId: member.user.id, kind: 'twins', checkId: 'c1', date: today() });
    const em = stack.orm.em.fork();
    expect(await em.count(Notification, { userId: member.user.id, kind: { $like: 'gestation%' } })).to.equal(0);
    expect(mailsTo(member.email).filter((m) => m.subject.includes('Nova'))).to.have.length(0);
    const toOwner = await em.find(Notification, { userId: ownerReg.user.id, kind: { $in: ['gestation_reminder', 'gestation_alert'] } });
    expect(toOwner.map((n) => n.kind).sort()).to.deep.equal(['gestation_alert', 'gestation_reminder']);
  });

  it('sends a reminder in-app when the email bounces for good (and records only the channel that went out); fails only when no channel can go out', async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    const mare = await horse('Bea', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Bounce', coverDates: [today()], method: 'natural' }, token)).body;
    const milestone = (id: string) => p.timeline.milestones.find((m: { id: string }) => m.id === id);
    const bouncing = gestationActivities({
      name: 'bouncing',
      send: async () => {
        throw new PermanentEmailError('422 the address bounced');
      },
    });
    const out = await bouncing.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: milestone('check-pregnancy'), plannedAt: milestone('check-pregnancy').reminderAt });
    expect(out).to.include({ outcome: 'sent' });
    expect((out as { channels: string[] }).channels).to.deep.equal(['in_app']);
    const em = stack.orm.em.fork();
    expect(await em.count(Notification, { key: `gestation:${p.id}:check-pregnancy` })).to.equal(1);
    expect((await em.findOneOrFail(EmailOutbox, { key: `gestation:${p.id}:check-pregnancy` })).status).to.equal('failed');
    expect((await em.findOneOrFail(ReminderLog, { gestationId: p.id, milestoneId: 'check-pregnancy' })).channels).to.deep.equal(['in_app']);

    // The twins alert too goes out in-app despite the bounce.
    expect(await bouncing.sendGestationAlert({ gestationId: p.id, userId: reg.user.id, kind: 'twins', checkId: 'c-bounce', date: today() })).to.deep.equal({ sent: true, channels: ['in_app'] });

    // A transient email failure is retried (thrown) until the deadline; after it, what went out is recorded.
    const flaky = gestationActivities({
      name: 'flaky',
      send: async () => {
        throw new Error('503 provider unavailable');
      },
    });
    const heartbeat = milestone('check-heartbeat');
    const retried = await flaky.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: heartbeat, plannedAt: heartbeat.reminderAt, deadline: new Date(Date.now() + 3_600_000).toISOString() }).catch((e) => e);
    expect(retried).to.be.instanceOf(Error).and.not.be.instanceOf(ApplicationFailure);
    expect(await em.count(ReminderLog, { gestationId: p.id, milestoneId: 'check-heartbeat' })).to.equal(0);
    const late = await flaky.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: heartbeat, plannedAt: heartbeat.reminderAt, deadline: new Date(Date.now() - 1000).toISOString() });
    expect(late).to.include({ outcome: 'sent' });
    expect((late as { channels: string[] }).channels).to.deep.equal(['in_app']);

    // In-app switched off and the email bouncing: nothing can go out → fails for good.
    em.create(ReminderPreferences, { userId: reg.user.id, leadDays: 2, email: true, inApp: false });
    await em.flush();
    const none = await bouncing.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: milestone('check-confirmation'), plannedAt: milestone('check-confirmation').reminderAt }).catch((e) => e);
    expect(none).to.be.instanceOf(ApplicationFailure);
    expect(none.nonRetryable).to.equal(true);
    expect(mailsTo(reg.email).filter((m) => m.subject.startsWith('Bea:'))).to.have.length(0);
  });

  it("keeps no provider's wording in a reminder that failed for good: our words, the HTTP status and the code (the raw message goes to the worker log only)", async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    const mare = await horse('Quill', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Raw', coverDates: [today()], method: 'natural' }, token)).body;
    const milestone = (id: string) => p.timeline.milestones.find((m: { id: string }) => m.id === id);
    const em = stack.orm.em.fork();
    // In-app off: the email is the only channel, so its failure is the reminder's failure.
    em.create(ReminderPreferences, { userId: reg.user.id, leadDays: 2, email: true, inApp: false });
    await em.flush();
    const RAW = `${reg.email} is on the provider's suppression list (req_8f2kX, smtp.provider.test)`;

    // A transient provider error still failing when the milestone's deadline passes.
    const down = gestationActivities({
      name: 'down',
      send: async () => {
        throw new EmailProviderError(RAW, 503, 'service_unavailable');
      },
    });
    const late = await down.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: milestone('check-pregnancy'), plannedAt: milestone('check-pregnancy').reminderAt, deadline: new Date(Date.now() - 1000).toISOString() }).catch((e) => e);
    expect(late).to.be.instanceOf(ApplicationFailure);
    expect(late.nonRetryable).to.equal(true);
    expect(late.message).to.not.include(RAW).and.not.include(reg.email).and.not.include('req_8f2kX');
    expect(late.message).to.include('email failed until the deadline').and.include('HTTP 503').and.include('service_unavailable');

    // A failure for good whose message is the provider's own text (an SDK may throw one).
    const sdk = gestationActivities({
      name: 'sdk',
      send: async () => {
        throw ApplicationFailure.nonRetryable(RAW, 'ProviderRejected', { status: 422, code: 'invalid_to' });
      },
    });
    const refused = await sdk.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: milestone('check-heartbeat'), plannedAt: milestone('check-heartbeat').reminderAt }).catch((e) => e);
    expect(refused).to.be.instanceOf(ApplicationFailure);
    expect(refused.message).to.not.include(RAW).and.not.include(reg.email);
    expect(refused.message).to.include('email failed for good (ProviderRejected, HTTP 422, invalid_to)');
  });

  it('does not resend, and does not send a milestone whose date moved since the workflow planned it', async function () {
    this.timeout(60_000);
    const { reg, token, horse } = await owner();
    const mare = await horse('Vera', 'mare');
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Moved', coverDates: [daysAgo(2)], method: 'natural' }, token)).body;
    const stale = p.timeline.milestones.find((m: { id: string }) => m.id === 'check-heartbeat');
    expect((await api.patch(`/api/gestations/${p.id}`, { coverDate: daysAgo(4) }, token)).status).to.equal(200);
    const acts = gestationActivities(new ResendMailer(stack.config.RESEND_API_KEY!, stack.config.EMAIL_FROM, stack.config.RESEND_BASE_URL));
    expect(await acts.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: stale, plannedAt: stale.reminderAt })).to.deep.equal({
      outcome: 'replanned',
      snapshot: await acts.loadGestation({ gestationId: p.id }),
    });
    expect(await stack.orm.em.fork().count(ReminderLog, { gestationId: p.id })).to.equal(0);
  });

  // The reminder window: each gestation's reminders go out at REMINDER_TIME_UTC + its offset;
  // the send must re-check with the same offset (a send planned before it is refused).
  it("plans every reminder at REMINDER_TIME_UTC + the gestation's offset in the reminder window, shows it (live and rebuilt from the database), and the send refuses it a second early", async function () {
    this.timeout(60_000);
    expect(stack.config.REMINDER_WINDOW_MINUTES, 'the stack runs with a reminder window').to.be.greaterThan(0);
    const { reg, token, horse } = await owner();
    const mare = await horse('Wendy', 'mare');
    // Covered today: check-pregnancy (day 14) is reminded on day 12, nothing is due now.
    const p = (await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Windy', coverDates: [today()], method: 'natural' }, token)).body;
    const offset = reminderOffsetSeconds(p.id, stack.config.REMINDER_WINDOW_MINUTES);
    type Shown = { id: string; reminderDate: string; reminderAt: string };
    const instantOf = (m: Shown) => Date.parse(`${m.reminderDate}T${stack.config.REMINDER_TIME_UTC}:00.000Z`) + offset * 1000;
    const expectSpread = (milestones: Shown[], where: string) => {
      expect(milestones.length, where).to.be.greaterThan(10);
      for (const m of milestones) expect(m.reminderAt, `${where}: ${m.id}`).to.equal(new Date(instantOf(m)).toISOString());
    };
    expect(p.timeline.source).to.equal('workflow');
    expectSpread(p.timeline.milestones, 'timeline in the creation answer');
    // After the workflow's first read (its snapshot carries the offset).
    await eventually(async () => (await (await workflow(p.id)).fetchHistory()).events!.some((e) => e.activityTaskCompletedEventAttributes), 20_000, 'the first read');
    expectSpread((await api.get(`/api/gestations/${p.id}`, token)).body.timeline.milestones, 'live timeline');

    const acts = gestationActivities(new ResendMailer(stack.config.RESEND_API_KEY!, stack.config.EMAIL_FROM, stack.config.RESEND_BASE_URL));
    const pregnancy = p.timeline.milestones.find((m: Shown) => m.id === 'check-pregnancy');
    if (offset > 0) {
      const early = await acts.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: pregnancy, plannedAt: new Date(instantOf(pregnancy) - 1000).toISOString() });
      expect(early, 'planned a second before the gestation\'s instant').to.include({ outcome: 'replanned' });
      expect(await stack.orm.em.fork().count(ReminderLog, { gestationId: p.id })).to.equal(0);
    }
    const onTime = await acts.sendGestationReminder({ gestationId: p.id, userId: reg.user.id, milestone: pregnancy, plannedAt: pregnancy.reminderAt });
    expect(onTime).to.include({ outcome: 'sent' });

    // Ended: the timeline is rebuilt from the database, with the same instants.
    expect((await api.post(`/api/gestations/${p.id}/loss`, { date: today() }, token)).status).to.equal(200);
    await (await workflow(p.id)).result();
    const ended = (await api.get(`/api/gestations/${p.id}`, token)).body.timeline;
    expect(ended.source).to.equal('database');
    expectSpread(ended.milestones, 'timeline rebuilt from the database');
  });
});
