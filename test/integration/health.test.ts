import { expect } from 'chai';
import ICAL from 'ical.js';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerUser } from '../support/http';
import { healthWorkflowId } from '../../workflows/ids';
import { HorseIdKey } from '../../workflows/search-attributes';
import { dayOf, plusDays, plusMonths } from '../../domain/health';
import { HealthAttachment, HealthRecord, HealthRecordAudit, HealthReminderLog, Notification } from '../../entities';
import { TEST_RESULTS_UP_SQL } from '../../entities/migrations/Migration20261203161500_test_results';

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(600, 0x20), Buffer.from('\n%%EOF\n')]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 1)]);
const MAX_BYTES = 4096;

describe('health book through the HTTP API', () => {
  const today = () => dayOf(Date.now());
  const daysAgo = (n: number) => plusDays(today(), -n);

  const { stack, api } = useTestStack({ env: { HEALTH_ATTACHMENT_MAX_BYTES: String(MAX_BYTES) }, startTimeoutMs: 240_000 });

  async function owner(firstName = 'Marie') {
    const reg = await registerUser(api, { firstName });
    const token = reg.accessToken;
    const horse = async (name: string, extra: Record<string, unknown> = {}) => {
      const res = await api.post('/api/horses', { name, gender: 'mare', ...extra }, token);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      return res.body as { id: string; name: string; organizationId: string };
    };
    const record = async (horseId: string, body: Record<string, unknown>) => {
      const res = await api.post(`/api/horses/${horseId}/health/records`, body, token);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      return res.body;
    };
    return { reg, token, horse, record };
  }
  const em = () => stack.orm.em.fork();
  const countRecords = async (horseId: string) => em().count(HealthRecord, { horse: horseId });
  const upload = (token: string, recordId: string, body: Buffer, type: string, filename?: string) =>
    api.call('POST', `/api/health/attachments/records/${recordId}${filename ? `?filename=${encodeURIComponent(filename)}` : ''}`, { token, raw: body, headers: { 'content-type': type } });

  it('records care, shows the health book per care item, and starts the horse\'s reminder workflow (HorseId) that sends a due reminder once, in-app and by email', async function () {
    this.timeout(90_000);
    const { reg, token, horse, record } = await owner();
    const comet = await horse('Comet', { birthDate: '2014-05-01' });
    // Farrier 41 days ago: due tomorrow, within the default 2-day lead time: the reminder goes out now.
    const farrier = await record(comet.id, { kind: 'farrier', date: daysAgo(41), details: { work: 'shoes', farrier: 'J. Smith' } });
    expect(farrier).to.include({ kind: 'farrier', date: daysAgo(41), horseId: comet.id, createdById: reg.user.id });
    await record(comet.id, { kind: 'vaccination', date: daysAgo(10), details: { diseases: ['influenza', 'tetanus'], product: 'ProteqFlu-Te', batch: 'B123', doseNumber: 1, givenBy: 'Dr Vet' } });
    await record(comet.id, { kind: 'fecal_egg_count', date: daysAgo(5), details: { eggsPerGram: 650 } });

    const book = await api.get(`/api/horses/${comet.id}/health`, token);
    expect(book.status, JSON.stringify(book.body)).to.equal(200);
    const item = (key: string) => book.body.items.find((i: { key: string }) => i.key === key);
    expect(item('farrier')).to.include({ lastDone: daysAgo(41), nextDue: plusDays(daysAgo(41), 42), status: 'due_soon', rule: 'every 6 weeks' });
    expect(item('vaccination:influenza')).to.include({ nextDue: plusDays(daysAgo(10), 28), status: 'due_soon' });
    expect(item('dental')).to.include({ status: 'never_recorded', nextDue: null });
    expect(item('deworming').rule).to.contain('every 3 months (high shedder');
    expect(book.body.records.total).to.equal(3);
    const onlyFarrier = await api.get(`/api/horses/${comet.id}/health?kind=farrier`, token);
    expect(onlyFarrier.body.records.items.map((r: { kind: string }) => r.kind)).to.deep.equal(['farrier']);
    const paged = await api.get(`/api/horses/${comet.id}/health/records?limit=2&page=2`, token);
    expect(paged.body).to.include({ total: 3, page: 2, limit: 2 });
    expect(paged.body.items).to.have.length(1);

    const client = await stack.temporal.client();
    const handle = client.workflow.getHandle(healthWorkflowId(comet.id));
    const described = await eventually(async () => {
      const d = await handle.describe();
      return d.status.name === 'RUNNING' ? d : null;
    }, 30_000, 'the health workflow');
    expect(described.taskQueue).to.equal('health');
    expect(described.typedSearchAttributes.get(HorseIdKey)).to.equal(comet.id);

    const due = plusDays(daysAgo(41), 42);
    const logs = await eventually(async () => {
      const rows = await em().find(HealthReminderLog, { horseId: comet.id, itemKey: 'farrier' });
      return rows.length ? rows : null;
    }, 45_000, 'the farrier reminder');
    expect(logs.map((l) => [l.stage, l.recipients, l.channels])).to.deep.equal([['reminder', [reg.user.id], ['email', 'in_app']]]);
    const notes = await em().find(Notification, { userId: reg.user.id, kind: 'health_reminder' });
    expect(notes.map((n) => n.title)).to.deep.equal([`Comet: Farrier (trim or shoes) due on ${due}`]);
    await eventually(async () => stack.resend.emails.some((m) => m.to.includes(reg.email) && m.subject.includes('Farrier')), 20_000, 'the email');

    // Another record wakes the workflow, which re-reads; the farrier reminder is not sent again.
    await record(comet.id, { kind: 'dental', date: daysAgo(1), details: {} });
    await eventually(async () => {
      const q = await handle.query('nextDue' as never) as { upcoming: { key: string }[] };
      return q.upcoming.some((u) => u.key === 'dental');
    }, 20_000, 'the workflow to see the dental record');
    expect(await em().count(HealthReminderLog, { horseId: comet.id, itemKey: 'farrier', stage: 'reminder' })).to.equal(1);
    expect(stack.resend.emails.filter((m) => m.to.includes(reg.email) && m.subject.includes('Farrier'))).to.have.length(1);
  });

  it('keeps an audit trail of edits and deletes (who, when, what changed); a deleted record leaves the plan but stays as evidence', async () => {
    const { reg, token, horse, record } = await owner();
    const h = await horse('Audit');
    const r = await record(h.id, { kind: 'deworming', date: daysAgo(20), details: { drugClass: 'benzimidazole', product: 'Panacur' } });
    const edit = await api.patch(`/api/horses/${h.id}/health/records/${r.id}`, { date: daysAgo(21), details: { drugClass: 'macrocyclic_lactone', product: 'Eqvalan' } }, token);
    expect(edit.status, JSON.stringify(edit.body)).to.equal(200);
    expect(edit.body).to.include({ date: daysAgo(21), updatedById: reg.user.id });
    const del = await api.delete(`/api/horses/${h.id}/health/records/${r.id}`, token);
    expect(del.status).to.equal(204);

    const detail = await api.get(`/api/horses/${h.id}/health/records/${r.id}`, token);
    expect(detail.status).to.equal(200);
    expect(detail.body.deletedAt).to.be.a('string');
    expect(detail.body.audit.map((a: { action: string; actorId: string }) => [a.action, a.actorId])).to.deep.equal([
      ['create', reg.user.id],
      ['update', reg.user.id],
      ['delete', reg.user.id],
    ]);
    expect(detail.body.audit[1].changes).to.deep.equal({
      date: { from: daysAgo(20), to: daysAgo(21) },
      details: { from: { drugClass: 'benzimidazole', product: 'Panacur' }, to: { drugClass: 'macrocyclic_lactone', product: 'Eqvalan' } },
    });
    const list = await api.get(`/api/horses/${h.id}/health/records`, token);
    expect(list.body.total).to.equal(0);
    expect((await api.get(`/api/horses/${h.id}/health/records?includeDeleted=true`, token)).body.total).to.equal(1);
    expect((await api.get(`/api/horses/${h.id}/health`, token)).body.items.find((i: { key: string }) => i.key === 'deworming').status).to.equal('never_recorded');
    expect((await api.patch(`/api/horses/${h.id}/health/records/${r.id}`, { notes: 'again' }, token)).status, 'a deleted record cannot be edited').to.equal(404);
  });

  it('refuses bad input with a 400 (against the document) or 422 (a rule it cannot state) that names the field, and writes nothing', async () => {
    const { token, horse, record } = await owner();
    const h = await horse('Strict');
    await record(h.id, { kind: 'vaccination', date: daysAgo(30), details: { diseases: ['influenza'], doseNumber: 1 } });
    const before = await countRecords(h.id);
    const auditsBefore = await em().count(HealthRecordAudit, { horseId: h.id });
    const cases: [string, Record<string, unknown>, string, number][] = [
      ['a dose in the future', { kind: 'vaccination', date: plusDays(today(), 3), details: { diseases: ['influenza'], doseNumber: 2 } }, 'date', 422],
      ['dose 2 before dose 1', { kind: 'vaccination', date: daysAgo(40), details: { diseases: ['influenza'], doseNumber: 2 } }, 'details.doseNumber', 422],
      ['an unknown kind', { kind: 'massage', date: daysAgo(1), details: {} }, 'kind', 400],
      ['an unknown disease', { kind: 'vaccination', date: daysAgo(1), details: { diseases: ['flu'] } }, 'details.diseases.0', 400],
      ['an impossible date', { kind: 'farrier', date: '2026-02-30', details: { work: 'trim' } }, 'date', 400],
      ['an expiry before the test', { kind: 'test', date: daysAgo(1), details: { testType: 'coggins', expiresOn: daysAgo(2) } }, 'details.expiresOn', 422],
      ['an unknown field', { kind: 'dental', date: daysAgo(1), details: {}, extra: 1 }, '', 400],
      ['a negative egg count', { kind: 'fecal_egg_count', date: daysAgo(1), details: { eggsPerGram: -5 } }, 'details.eggsPerGram', 400],
    ];
    for (const [what, body, field, status] of cases) {
      const res = await api.post(`/api/horses/${h.id}/health/records`, body, token);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).to.equal(status);
      expect(res.body.message, what).to.be.a('string');
      if (field) expect(res.body.details.map((d: { field: string }) => d.field), what).to.include(field);
    }
    const interval = async (key: string, body: unknown) => api.put(`/api/horses/${h.id}/health/plan/${key}`, body, token);
    expect((await interval('farrier', { enabled: true, intervalDays: 0 })).body.details[0]).to.include({ field: 'intervalDays', message: 'must be at least 1 day' });
    expect((await interval('farrier', { enabled: true, intervalDays: 1827 })).body.details[0].message).to.contain('5 years');
    expect((await interval('massage', { enabled: true })).status).to.equal(400);
    expect((await interval('test:coggins', { enabled: true, intervalDays: 30 })).status).to.equal(422);
    expect((await api.get(`/api/health/due?within=abc`, token)).status).to.equal(400);
    expect((await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=2026-13-01`, token)).status).to.equal(400);
    expect((await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${today()}&rules=usef`, token)).status).to.equal(400);
    expect(await countRecords(h.id)).to.equal(before);
    expect(await em().count(HealthRecordAudit, { horseId: h.id })).to.equal(auditsBefore);
    expect((await api.get(`/api/horses/${h.id}/health/plan`, token)).body.items.every((i: { intervalDays: number | null }) => i.intervalDays === null)).to.equal(true);
  });

  it('records the same care for several horses at once, all or nothing', async () => {
    const { token, horse } = await owner();
    const stranger = await owner('Other');
    const mine = await Promise.all(['A', 'B', 'C'].map((n) => horse(`Bulk ${n}`)));
    const theirs = await stranger.horse('Not yours');
    const res = await api.post('/api/health/records/bulk', { horseIds: mine.map((h) => h.id), kind: 'farrier', date: daysAgo(0), details: { work: 'shoes' } }, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.records).to.have.length(3);
    expect(new Set(res.body.records.map((r: { batchId: string }) => r.batchId))).to.deep.equal(new Set([res.body.batchId]));
    const foreign = await api.post('/api/health/records/bulk', { horseIds: [mine[0].id, theirs.id], kind: 'dental', date: daysAgo(0), details: {} }, token);
    expect(foreign.status).to.equal(404);
    const bad = await api.post('/api/health/records/bulk', { horseIds: [mine[0].id], kind: 'farrier', date: daysAgo(0), details: { work: 'polish' } }, token);
    expect(bad.status).to.equal(422);
    expect(bad.body.details[0].field).to.equal('details.work');
    const repeated = await api.post('/api/health/records/bulk', { horseIds: [mine[0].id, mine[0].id], kind: 'dental', date: daysAgo(0), details: {} }, token);
    expect(repeated.status).to.equal(400);
    for (const h of mine) expect(await countRecords(h.id)).to.equal(1);
    expect(await countRecords(theirs.id)).to.equal(0);
  });

  it('lists what is due across my horses, overdue first then by date, within the window', async () => {
    const { token, horse, record } = await owner();
    const a = await horse('Alpha');
    const b = await horse('Bravo', { birthDate: '2010-01-01' });
    await record(a.id, { kind: 'farrier', date: daysAgo(50), details: { work: 'trim' } }); // overdue 8 days
    await record(b.id, { kind: 'dental', date: daysAgo(350), details: {} }); // due in ~15 days
    await record(b.id, { kind: 'test', date: daysAgo(300), details: { testType: 'coggins', result: 'negative', expiresOn: plusDays(today(), 60) } });
    const due = await api.get('/api/health/due?within=30d', token);
    expect(due.status, JSON.stringify(due.body)).to.equal(200);
    expect(due.body.items.map((i: { horse: { name: string }; key: string; status: string }) => [i.horse.name, i.key, i.status])).to.deep.equal([
      ['Alpha', 'farrier', 'overdue'],
      ['Bravo', 'dental', 'due_soon'],
    ]);
    const wide = await api.get('/api/health/due?within=90d', token);
    expect(wide.body.items.map((i: { key: string }) => i.key)).to.deep.equal(['farrier', 'dental', 'test:coggins']);
    const other = await owner('Nobody');
    expect((await api.get('/api/health/due', other.token)).body.items).to.deep.equal([]);
    expect((await api.get(`/api/health/due?organizationId=${a.organizationId}`, other.token)).status).to.equal(404);
  });

  it('takes a Coggins result as negative | positive | inconclusive | pending: a positive test is no certificate, needs action in the book and heads the due view; old free-text results are mapped by the migration', async () => {
    const { token, horse, record } = await owner();
    const h = await horse('Reactor');
    const before = await countRecords(h.id);
    const free = await api.post(`/api/horses/${h.id}/health/records`, { kind: 'test', date: daysAgo(3), details: { testType: 'coggins', result: 'Negative - lab ref 4411' } }, token);
    expect(free.status, JSON.stringify(free.body)).to.equal(400);
    expect(free.body.details.map((d: { field: string }) => d.field)).to.include('details.result');
    expect(free.body.message).to.include('negative, positive, inconclusive, pending');
    expect(await countRecords(h.id), 'nothing written').to.equal(before);

    await record(h.id, { kind: 'test', date: daysAgo(400), details: { testType: 'coggins', result: 'negative', expiresOn: daysAgo(35) } });
    const positive = await record(h.id, { kind: 'test', date: daysAgo(3), details: { testType: 'coggins', result: 'positive', resultText: 'AGID reactive, lab ref 4411', expiresOn: plusDays(today(), 362) } });
    expect(positive.details).to.include({ result: 'positive', resultText: 'AGID reactive, lab ref 4411' });
    const book = await api.get(`/api/horses/${h.id}/health`, token);
    expect(book.status, JSON.stringify(book.body)).to.equal(200);
    const coggins = book.body.items.find((i: { key: string }) => i.key === 'test:coggins');
    expect(coggins).to.include({ status: 'action_needed', nextDue: null, lastDone: daysAgo(3) });
    expect(coggins.attention).to.include('not a valid Coggins certificate').and.include('notifiable');
    const farrier = book.body.items.find((i: { key: string }) => i.key === 'farrier');
    expect(farrier.attention, 'other items carry no attention').to.equal(null);

    // The barn manager's morning view: first, whatever the window (it has no due date).
    await record(h.id, { kind: 'farrier', date: daysAgo(50), details: { work: 'trim' } });
    const due = await api.get(`/api/health/due?within=0d&organizationId=${h.organizationId}`, token);
    expect(due.status, JSON.stringify(due.body)).to.equal(200);
    expect(due.body.items.map((i: { key: string; status: string; nextDue: string | null }) => [i.key, i.status, i.nextDue])).to.deep.equal([
      ['test:coggins', 'action_needed', null],
      ['farrier', 'overdue', plusDays(daysAgo(50), 42)],
    ]);

    // Rows written before the result was validated: the migration maps what it can read and keeps the words.
    const legacy = await horse('Legacy');
    const conn = em().getConnection();
    const old = async (date: string, details: Record<string, unknown>) =>
      (
        (await conn.execute(
          `insert into health_records (id, created_at, updated_at, horse_id, kind, date, details, created_by_id) values (gen_random_uuid(), now(), now(), ?, 'test', ?, ?::jsonb, ?) returning id`,
          [legacy.id, date, JSON.stringify(details), (await em().findOneOrFail(HealthRecord, { id: positive.id })).createdById],
        )) as { id: string }[]
      )[0].id;
    const ids = {
      neg: await old(daysAgo(30), { testType: 'coggins', result: ' Neg. ', expiresOn: plusDays(today(), 335) }),
      reactive: await old(daysAgo(6), { testType: 'coggins', result: 'REACTIVE' }),
      bare: await old(daysAgo(10), { testType: 'coggins', result: 'negative' }),
      free: await old(daysAgo(5), { testType: 'other', name: 'bloods', result: 'titre 1:64, see PDF' }),
      none: await old(daysAgo(4), { testType: 'other' }),
    };
    await conn.execute(TEST_RESULTS_UP_SQL.replace(/;\s*$/, ` and "horse_id" = '${legacy.id}';`));
    const details = async (id: string) => (await em().findOneOrFail(HealthRecord, { id })).details;
    expect(await details(ids.neg)).to.deep.include({ result: 'negative', resultText: ' Neg. ' });
    expect(await details(ids.reactive)).to.deep.include({ result: 'positive', resultText: 'REACTIVE' });
    expect(await details(ids.bare)).to.deep.equal({ testType: 'coggins', result: 'negative' });
    expect(await details(ids.free)).to.deep.include({ result: 'unknown', resultText: 'titre 1:64, see PDF' });
    expect(await details(ids.none)).to.deep.equal({ testType: 'other', result: 'unknown' });
    // The latest legacy Coggins was a reactive one: the book asks for action, whatever the older negative said.
    const legacyBook = await api.get(`/api/horses/${legacy.id}/health`, token);
    expect(legacyBook.body.items.find((i: { key: string }) => i.key === 'test:coggins')).to.include({ status: 'action_needed', nextDue: null });
  });

  it('answers competition eligibility under FEI and BEF from the recorded influenza doses, naming the failing rule and the booster date', async () => {
    const { token, horse, record } = await owner();
    const h = await horse('Jumper');
    const d2 = daysAgo(200);
    await record(h.id, { kind: 'vaccination', date: daysAgo(230), details: { diseases: ['influenza'], doseNumber: 1 } });
    await record(h.id, { kind: 'vaccination', date: d2, details: { diseases: ['influenza'], doseNumber: 2 } });
    await record(h.id, { kind: 'vaccination', date: daysAgo(20), details: { diseases: ['influenza'] } });
    const ok = await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${today()}&rules=fei`, token);
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    expect(ok.body).to.include({ eligible: true, rules: 'fei', boosterNeededBy: null });
    const late = plusDays(plusMonths(daysAgo(20), 6), 22);
    const no = await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${late}&rules=fei`, token);
    expect(no.body.eligible).to.equal(false);
    expect(no.body.failures.map((f: { rule: string }) => f.rule)).to.deep.equal(['recent-booster']);
    expect(no.body.boosterNeededBy).to.equal(plusDays(late, -7));
    expect((await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${late}&rules=bef`, token)).body.eligible).to.equal(true);
    const soon = await api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${plusDays(daysAgo(20), 5)}`, token);
    expect(soon.body.failures.map((f: { rule: string }) => f.rule)).to.deep.equal(['seven-days']);
  });

  it('changes the plan per horse: an interval moves the due date, a switched-off item is off, a reset brings the default back', async () => {
    const { token, horse, record } = await owner();
    const h = await horse('Planned');
    await record(h.id, { kind: 'farrier', date: daysAgo(10), details: { work: 'trim' } });
    const set = await api.put(`/api/horses/${h.id}/health/plan/farrier`, { enabled: true, intervalDays: 56 }, token);
    expect(set.status, JSON.stringify(set.body)).to.equal(200);
    expect(set.body.items.find((i: { key: string }) => i.key === 'farrier')).to.include({ nextDue: plusDays(daysAgo(10), 56), intervalDays: 56 });
    const off = await api.put(`/api/horses/${h.id}/health/plan/dental`, { enabled: false }, token);
    expect(off.body.items.find((i: { key: string }) => i.key === 'dental')).to.include({ status: 'off', enabled: false });
    const reset = await api.delete(`/api/horses/${h.id}/health/plan/farrier`, token);
    expect(reset.body.items.find((i: { key: string }) => i.key === 'farrier')).to.include({ nextDue: plusDays(daysAgo(10), 42), intervalDays: null });
  });

  it('stores attachments through the storage port under the organization, by type allow-list and size limit', async () => {
    const { token, horse, record, reg } = await owner();
    const h = await horse('Papers');
    const r = await record(h.id, { kind: 'document', date: daysAgo(100), details: { documentType: 'passport', expiresOn: plusDays(today(), 3000) } });
    const up = await upload(token, r.id, PDF, 'application/pdf', 'passport page.pdf');
    expect(up.status, JSON.stringify(up.body)).to.equal(201);
    expect(up.body).to.include({ contentType: 'application/pdf', size: PDF.length, filename: 'passport page.pdf', uploadedById: reg.user.id });
    const png = await upload(token, r.id, PNG, 'image/png');
    expect(png.status).to.equal(201);
    const down = await fetch(`${stack.baseUrl}/api/health/attachments/${up.body.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(down.status).to.equal(200);
    expect(down.headers.get('content-type')).to.equal('application/pdf');
    expect(Buffer.from(await down.arrayBuffer()).equals(PDF)).to.equal(true);
    const stored = await em().findOneOrFail(HealthAttachment, { id: up.body.id });
    expect(stored.storageKey).to.match(new RegExp(`^orgs/${h.organizationId}/health/${h.id}/${up.body.id}\\.pdf$`));
    const listed = await api.get(`/api/horses/${h.id}/health/records/${r.id}`, token);
    expect(listed.body.attachments.map((a: { id: string }) => a.id).sort()).to.deep.equal([up.body.id, png.body.id].sort());
    expect(listed.body.audit.map((a: { action: string }) => a.action)).to.deep.equal(['create', 'attach', 'attach']);

    expect((await upload(token, r.id, PDF, 'application/x-msdownload')).status, 'type not allowed').to.equal(415);
    expect((await upload(token, r.id, Buffer.from('MZ this is not a pdf'), 'application/pdf')).status, 'bytes do not match').to.equal(422);
    const big = await upload(token, r.id, Buffer.concat([PDF, Buffer.alloc(MAX_BYTES)]), 'application/pdf');
    expect(big.status, JSON.stringify(big.body)).to.equal(413);
    expect((await upload(token, r.id, Buffer.alloc(0), 'application/pdf')).status).to.equal(400);
    const stranger = await owner('Other');
    expect((await upload(stranger.token, r.id, PDF, 'application/pdf')).status).to.equal(404);
    expect((await api.get(`/api/health/attachments/${up.body.id}`, stranger.token)).status).to.equal(404);
    expect((await api.delete(`/api/health/attachments/${up.body.id}`, stranger.token)).status).to.equal(404);
    expect((await api.get(`/api/horses/${h.id}/health/records/${r.id}`, token)).body.attachments).to.have.length(2);
    expect((await api.delete(`/api/health/attachments/${png.body.id}`, token)).status).to.equal(204);
    expect((await api.get(`/api/horses/${h.id}/health/records/${r.id}`, token)).body.attachments).to.have.length(1);
  });

  it("serves an organization's iCalendar feed at a secret, revocable URL: due care, gestation milestones, listing expiries (parsed with ical.js)", async function () {
    this.timeout(60_000);
    const { token, horse, record } = await owner();
    const comet = await horse('Comet');
    await record(comet.id, { kind: 'farrier', date: daysAgo(10), details: { work: 'trim' } });
    const bella = await horse('Bella');
    const gestation = await api.post('/api/gestations', { mareId: bella.id, stallionName: 'Zeus', coverDates: [daysAgo(20)], method: 'natural' }, token);
    expect(gestation.status, JSON.stringify(gestation.body)).to.equal(201);
    const listing = await api.post('/api/marketplace/my/listings', { type: 'sale', title: 'Lovely mare', description: 'Sound and kind.', priceCents: 500000, currency: 'EUR' }, token);
    expect(listing.status, JSON.stringify(listing.body)).to.equal(201);
    const published = await api.post(`/api/marketplace/my/listings/${listing.body.id}/publish`, undefined, token);
    expect(published.status, JSON.stringify(published.body)).to.equal(200);

    const created = await api.post('/api/health/calendar-feeds', { label: 'Barn calendar' }, token);
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.url).to.match(/\/api\/health\/calendar\/[A-Za-z0-9_-]{43}\.ics$/);
    const path = new URL(created.body.url).pathname;
    const res = await fetch(`${stack.baseUrl}${path}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/calendar/);
    const vcalendar = new ICAL.Component(ICAL.parse(await res.text()));
    const events = vcalendar.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    const byName = (s: string) => events.filter((e) => e.summary.includes(s));
    const farrier = byName('Comet: Farrier');
    expect(farrier).to.have.length(1);
    expect(farrier[0].startDate.toString()).to.equal(plusDays(daysAgo(10), 42));
    expect(farrier[0].startDate.isDate, 'an all-day event').to.equal(true);
    const scan = byName('Bella: Ultrasound: heartbeat');
    expect(scan).to.have.length(1);
    expect(scan[0].startDate.toString()).to.equal(plusDays(daysAgo(20), 25));
    const expiry = byName('Listing expires: Lovely mare');
    expect(expiry).to.have.length(1);
    expect(expiry[0].startDate.toJSDate().toISOString()).to.equal(new Date(published.body.expiresAt).toISOString().replace(/\.\d{3}Z$/, '.000Z'));
    expect(new Set(events.map((e) => e.uid)).size, 'unique UIDs').to.equal(events.length);

    const stranger = await owner('Other');
    expect((await api.delete(`/api/health/calendar-feeds/${created.body.id}`, stranger.token)).status).to.equal(404);
    expect((await api.get('/api/health/calendar-feeds', token)).body.items.map((f: { id: string }) => f.id)).to.deep.equal([created.body.id]);
    expect((await api.delete(`/api/health/calendar-feeds/${created.body.id}`, token)).status).to.equal(204);
    expect((await fetch(`${stack.baseUrl}${path}`)).status).to.equal(404);
    expect((await fetch(`${stack.baseUrl}/api/health/calendar/${'x'.repeat(43)}.ics`)).status).to.equal(404);
    expect((await fetch(`${stack.baseUrl}/api/health/calendar/short.ics`)).status).to.equal(400);
  });

  it("shares one horse's health book read-only through an expiring, revocable link that reveals nothing else", async () => {
    const { token, horse, record } = await owner();
    const shared = await horse('Shared', { birthDate: '2016-03-01' });
    const hidden = await horse('Hidden');
    const doc = await record(shared.id, { kind: 'test', date: daysAgo(30), details: { testType: 'coggins', result: 'negative', expiresOn: plusDays(today(), 335) } });
    await record(hidden.id, { kind: 'dental', date: daysAgo(5), details: { practitioner: 'Secret dentist' } });
    const att = await upload(token, doc.id, PDF, 'application/pdf', 'coggins.pdf');
    const link = await api.post(`/api/horses/${shared.id}/health/share-links`, { expiresInDays: 7, label: 'For the buyer' }, token);
    expect(link.status, JSON.stringify(link.body)).to.equal(201);
    const tokenPath = new URL(link.body.url).pathname;
    const view = await api.get(tokenPath);
    expect(view.status, JSON.stringify(view.body)).to.equal(200);
    expect(view.body.horse).to.deep.equal({ name: 'Shared', breed: null, birthDate: '2016-03-01', gender: 'mare' });
    expect(view.body.records.map((r: { kind: string }) => r.kind)).to.deep.equal(['test']);
    const text = JSON.stringify(view.body);
    for (const secret of ['Hidden', 'Secret dentist', hidden.id, shared.organizationId]) expect(text).to.not.contain(secret);
    const file = await fetch(`${stack.baseUrl}${tokenPath}/attachments/${att.body.id}`);
    expect(file.status).to.equal(200);
    const hiddenDoc = await record(hidden.id, { kind: 'document', date: daysAgo(2), details: { documentType: 'insurance' } });
    const hiddenAtt = await upload(token, hiddenDoc.id, PDF, 'application/pdf');
    expect((await fetch(`${stack.baseUrl}${tokenPath}/attachments/${hiddenAtt.body.id}`)).status, "another horse's file").to.equal(404);
    // Read-only: a write method on the share URL is not declared, so the API answers 405 + Allow.
    const write = await api.post(`/api/health/shared/${link.body.token}`, {});
    expect(write.status, 'read-only').to.equal(405);

    const stranger = await owner('Other');
    expect((await api.post(`/api/horses/${shared.id}/health/share-links`, { expiresInDays: 7 }, stranger.token)).status).to.equal(404);
    expect((await api.delete(`/api/horses/${shared.id}/health/share-links/${link.body.id}`, stranger.token)).status).to.equal(404);
    expect((await api.post(`/api/horses/${shared.id}/health/share-links`, { expiresInDays: 0 }, token)).status).to.equal(400);
    expect((await api.post(`/api/horses/${shared.id}/health/share-links`, { expiresInDays: 91 }, token)).status).to.equal(400);

    const list = await api.get(`/api/horses/${shared.id}/health/share-links`, token);
    expect(list.body.items.map((l: { id: string; lastUsedAt: string | null }) => [l.id, !!l.lastUsedAt])).to.deep.equal([[link.body.id, true]]);
    expect(JSON.stringify(list.body)).to.not.contain(link.body.token);
    expect((await api.delete(`/api/horses/${shared.id}/health/share-links/${link.body.id}`, token)).status).to.equal(204);
    expect((await api.get(tokenPath)).status).to.equal(404);
    expect((await api.get(`/api/health/shared/${'a'.repeat(43)}`)).status).to.equal(404);
    expect((await api.get('/api/health/shared/not-a-token')).status).to.equal(400);
  });

  it("answers 404 for another organization's horse, record or attachment on every route, and changes nothing", async () => {
    const { token, horse, record } = await owner();
    const h = await horse('Mine');
    const r = await record(h.id, { kind: 'farrier', date: daysAgo(3), details: { work: 'trim' } });
    const stranger = await owner('Other');
    const t = stranger.token;
    const attempts = [
      api.get(`/api/horses/${h.id}/health`, t),
      api.get(`/api/horses/${h.id}/health/records`, t),
      api.post(`/api/horses/${h.id}/health/records`, { kind: 'dental', date: daysAgo(1), details: {} }, t),
      api.get(`/api/horses/${h.id}/health/records/${r.id}`, t),
      api.patch(`/api/horses/${h.id}/health/records/${r.id}`, { notes: 'mine now' }, t),
      api.delete(`/api/horses/${h.id}/health/records/${r.id}`, t),
      api.get(`/api/horses/${h.id}/health/competition-eligibility?date=${today()}`, t),
      api.get(`/api/horses/${h.id}/health/plan`, t),
      api.put(`/api/horses/${h.id}/health/plan/farrier`, { enabled: false }, t),
      api.delete(`/api/horses/${h.id}/health/plan/farrier`, t),
      api.get(`/api/horses/${h.id}/health/share-links`, t),
      api.post('/api/health/records/bulk', { horseIds: [h.id], kind: 'dental', date: daysAgo(1), details: {} }, t),
    ];
    for (const res of await Promise.all(attempts)) expect(res.status, JSON.stringify(res.body)).to.equal(404);
    expect(await countRecords(h.id)).to.equal(1);
    const mine = await api.get(`/api/horses/${h.id}/health/records/${r.id}`, token);
    expect(mine.body.notes).to.equal(null);
    expect(mine.body.audit).to.have.length(1);
    expect((await api.get(`/api/horses/${h.id}/health`, undefined)).status).to.equal(401);
  });

  it('documents the health routes in the OpenAPI document', async () => {
    const doc = await api.get('/api/openapi.json');
    const paths = Object.keys(doc.body.paths);
    for (const p of [
      '/api/horses/{id}/health',
      '/api/horses/{id}/health/records',
      '/api/health/records/bulk',
      '/api/health/due',
      '/api/horses/{id}/health/competition-eligibility',
      '/api/health/attachments/records/{recordId}',
      '/api/health/calendar/{file}',
      '/api/health/shared/{token}',
    ]) {
      expect(paths, p).to.include(p);
    }
  });
});
