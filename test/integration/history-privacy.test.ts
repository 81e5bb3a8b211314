import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Client } from '@temporalio/client';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerVerifiedUser } from '../support/http';
import { uniqueVideo, uploadVideo, waitForAnalysis } from '../support/analysis';
import { addDaysIso, dateOf } from '../../domain/gestation';
import { Notification, ReminderLog, HealthReminderLog } from '../../entities';
import { TaskQueue } from '../../workflows/queues';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';
import { listingLifecycle } from '../../workflows/marketplace/listingLifecycle';
import { listingWorkflowId } from '../../workflows/ids';
import { renewedSignal } from '../../workflows/marketplace/messages';

/**
 * Temporal histories are readable by ops and by anyone with Temporal access, and kept for
 * the namespace's retention: they must hold ids, never personal data. This drives every
 * workflow through the real API, workers and activities with recognizable personal data —
 * name, email, phone, horse name, listing title, gestation notes, a typed cancel reason, an
 * invitee's address — then reads back every history those runs wrote (inputs, activity
 * inputs and results, signals, failures, memo and search attributes: every payload decoded)
 * and fails on any trace of them. A workflow another feature adds is scanned too: whatever
 * starts during the test is read.
 */
describe('no personal data in Temporal histories', () => {
  let client: Client;
  const startedAt = new Date(Date.now() - 1000);
  const tag = randomUUID().replace(/-/g, '').slice(0, 10);
  const pii = {
    email: `pii.mail.${tag}@example.test`,
    firstName: `Firstpii${tag}`,
    lastName: `Lastpii${tag}`,
    horse: `Horsepii${tag}`,
    stallion: `Stallionpii${tag}`,
    vet: `Vetpii${tag}`,
    phone: `+33 6 ${randomInt(10, 99)} ${randomInt(10, 99)} ${randomInt(10, 99)} ${randomInt(10, 99)}`,
    notes: `Notespii${tag}`,
    listingTitle: `Titlepii${tag}`,
    listingText: `Descriptionpii${tag}`,
    contactEmail: `pii.contact.${tag}@example.test`,
    cancelReason: `Reasonpii${tag}`,
    invitee: `pii.invitee.${tag}@example.test`,
  };

  const { stack, api } = useTestStack();
  before(async () => {
    client = await stack.temporal.client();
  });

  const today = () => dateOf(Date.now());
  const daysAgo = (n: number) => addDaysIso(today(), -n);
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute<T[]>(text, params);

  /** Every string a history holds, payloads decoded (JSON-encoded data as text). */
  function textsOf(value: unknown, out: string[] = [], seen = new Set<unknown>()): string[] {
    if (value === null || value === undefined) return out;
    if (typeof value === 'string') out.push(value);
    else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'object' && !seen.has(value)) {
      seen.add(value);
      for (const v of Array.isArray(value) ? value : Object.values(value)) textsOf(v, out, seen);
    }
    return out;
  }

  it('runs every workflow with personal data in the database, and none of it reaches a history', async function () {
    this.timeout(300_000);
    // Accounts: register (welcome, verification email), a reset request, an invitation.
    const user = await registerVerifiedUser(api, stack.resend, { email: pii.email, firstName: pii.firstName, lastName: pii.lastName });
    const token = user.accessToken;
    const orgId = user.user.organizations[0].organizationId as string;
    expect((await api.post('/api/auth/password-reset', { email: pii.email })).status).to.be.within(200, 299);
    const invited = await api.post(`/api/organizations/${orgId}/invitations`, { email: pii.invitee }, token);
    expect(invited.status, JSON.stringify(invited.body)).to.equal(201);

    // A mare with a health record (health reminders) and a gestation (gestation reminders).
    const horse = await api.post('/api/horses', { name: pii.horse, gender: 'mare' }, token);
    expect(horse.status, JSON.stringify(horse.body)).to.equal(201);
    const horseId = horse.body.id as string;
    const record = await api.post(`/api/horses/${horseId}/health/records`, { kind: 'farrier', date: daysAgo(41), details: { work: 'shoes' } }, token);
    expect(record.status, JSON.stringify(record.body)).to.equal(201);
    const gestation = await api.post(
      '/api/gestations',
      { mareId: horseId, stallionName: pii.stallion, coverDates: [daysAgo(13)], method: 'natural', vet: { name: pii.vet, contact: pii.phone }, notes: pii.notes },
      token,
    );
    expect(gestation.status, JSON.stringify(gestation.body)).to.equal(201);

    // Analyses: one completed, one failed (both models answer invalid output), one canceled with a typed reason.
    const analyse = async () => {
      const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey: await uploadVideo(api, token, await uniqueVideo()) }, token);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return res.body.id as string;
    };
    const completed = await analyse();
    expect((await waitForAnalysis(api, token, completed)).status).to.equal('completed');
    stack.anthropic.script('invalid');
    stack.openai.script('invalid');
    const failed = await analyse();
    expect((await waitForAnalysis(api, token, failed)).status).to.equal('failed');
    stack.anthropic.script('hang');
    const canceled = await analyse();
    await eventually(async () => (await api.get(`/api/analyses/${canceled}`, token)).body?.progress?.stage === 'analyzing' || stack.anthropic.requestsFor(canceled).length > 0, 45_000, 'the AI call');
    expect((await api.post(`/api/analyses/${canceled}/cancel`, { reason: pii.cancelReason }, token)).status).to.equal(202);
    const canceledRow = await waitForAnalysis(api, token, canceled);
    expect(canceledRow.status).to.equal('canceled');
    expect(JSON.stringify(canceledRow.error)).to.contain(pii.cancelReason); // kept in our database, where it belongs

    // Listings: one expired by the reconcile sweep (expiry notice), one reminded by its lifecycle.
    const listing = async () => {
      const res = await api.post(
        '/api/marketplace/my/listings',
        { type: 'sale', title: pii.listingTitle, description: pii.listingText, priceCents: 900_000, currency: 'EUR', country: 'FR', contactEmail: pii.contactEmail, contactPhone: pii.phone },
        token,
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const published = await api.post(`/api/marketplace/my/listings/${res.body.id}/publish`, undefined, token);
      expect(published.status, JSON.stringify(published.body)).to.equal(200);
      return res.body.id as string;
    };
    const expiring = await listing();
    await sql(`update listings set expires_at = now() - interval '1 hour' where id = ?`, [expiring]);
    await client.workflow.execute(marketplaceReconcile, { taskQueue: TaskQueue.marketplace, workflowId: `pii-reconcile-${tag}`, args: [{ graceMinutes: 0 }] });
    await client.workflow.getHandle(listingWorkflowId(expiring)).terminate('test: expired by the reconcile sweep');
    const reminded = await listing();
    const [row] = await sql<{ publication: number; expires_at: Date }>('select publication, expires_at from listings where id = ?', [reminded]);
    // Its reminder is due at once: a lead longer than what is left, from an expiry set long ago.
    const lifecycle = await client.workflow.start(listingLifecycle, {
      taskQueue: TaskQueue.marketplace,
      workflowId: `pii-listing-${tag}`,
      args: [{ listingId: reminded, publication: row.publication, expiresAt: new Date(row.expires_at).toISOString(), expirySetAt: new Date(Date.now() - 90 * 86_400_000).toISOString(), reminderDays: 60 }],
    });

    // Wait for the notices each workflow sends (so their activities have run and their results are in the histories).
    const em = () => stack.orm.em.fork();
    await eventually(async () => (await em().count(Notification, { userId: user.user.id, kind: 'listing.expiring' })) > 0, 60_000, 'the listing reminder');
    await eventually(async () => (await em().count(Notification, { userId: user.user.id, kind: 'listing.expired' })) > 0, 60_000, 'the listing expiry notice');
    await eventually(async () => (await em().count(ReminderLog, { gestationId: gestation.body.id })) > 0, 60_000, 'the gestation reminder');
    await eventually(async () => (await em().count(HealthReminderLog, { horseId })) > 0, 60_000, 'the health reminder');
    // Positive control: a signal payload smuggling a marker (a stale renewal, ignored by the run) must be found.
    const canary = `Canarypii${tag}`;
    await lifecycle.signal(renewedSignal, { publication: 0, expiresAt: new Date().toISOString(), note: canary } as never);
    await lifecycle.terminate('test: reminder sent');

    // Every workflow that ran since the test started, with its whole history.
    const runs: { type: string; workflowId: string; runId: string }[] = [];
    for await (const w of client.workflow.list({ query: `StartTime >= "${startedAt.toISOString()}"` })) runs.push({ type: w.type, workflowId: w.workflowId, runId: w.runId });
    const types = new Set(runs.map((r) => r.type));
    for (const t of ['welcomeWorkflow', 'accountEmail', 'analyzeVideo', 'gestationTracking', 'healthReminders', 'listingLifecycle', 'marketplaceReconcile']) {
      expect(types, `a ${t} run to scan`).to.include(t);
    }
    const leaks: string[] = [];
    let scanned = '';
    for (const r of runs) {
      const history = await client.workflow.getHandle(r.workflowId, r.runId).fetchHistory();
      const text = textsOf(history).join('\n');
      scanned += text;
      for (const [what, value] of Object.entries(pii)) {
        for (const needle of new Set([value, value.toLowerCase()])) {
          const at = text.indexOf(needle);
          if (at >= 0) leaks.push(`${r.type} ${r.workflowId}: ${what} in …${text.slice(Math.max(0, at - 80), at + needle.length + 40)}…`);
        }
      }
    }
    // The scan reads decoded payloads: the ids the workflows do carry, and the control's marker, are found.
    expect(scanned, 'the control marker').to.contain(canary);
    for (const id of [user.user.id, completed, failed, canceled, gestation.body.id, horseId, reminded]) expect(scanned, `id ${id} in the decoded histories`).to.contain(id);
    expect(leaks, leaks.join('\n')).to.deep.equal([]);
  });
});
