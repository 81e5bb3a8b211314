import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { testDatabase } from '../support/infra';
import { createOrm, type MikroORM } from '../../entities/orm';
import { getBalance, grantPeriodCredits, reserveCredits, settleReservation } from '../../entities/credit-ledger';
import { CreditTransaction, EmailOutbox, Notification } from '../../entities';
import { DomainError, ErrorType } from '../../domain/errors';
import { createNotifyActivities, type EmailResult } from '../../activities/notify';
import { createAccountsActivities } from '../../activities/accounts';
import { PermanentEmailError, type Mailer, type OutgoingEmail } from '../../adapters/email/mailer';
import { createLogger } from '../../adapters/logger';

const quietLogger = new DefaultLogger('ERROR');

describe('accounts, credits and notifications on real Postgres', () => {
  // One ORM for every suite in this file, on the run's migrated test database.
  let orm: MikroORM;
  before(async function () {
    this.timeout(120_000);
    orm = await createOrm({ databaseUrl: (await testDatabase()).url });
  });
  after(async () => {
    await orm?.close();
  });

  describe('credit ledger (real Postgres)', () => {

    it('reserves, commits and releases exactly once per key, even when replayed', async () => {
      const userId = randomUUID();
      const em = orm.em.fork();
      await grantPeriodCredits(em, userId, 5, `grant:${userId}:p1`, 'test');
      await grantPeriodCredits(em, userId, 5, `grant:${userId}:p1`, 'test replay');
      await reserveCredits(em, userId, 2, `a1:reserve`.replace('a1', userId), 'analysis');
      await reserveCredits(em, userId, 2, `a1:reserve`.replace('a1', userId), 'analysis replay');
      expect(await getBalance(em, userId)).to.deep.equal({ balance: 3, reserved: 2 });

      expect(await settleReservation(em, userId, 2, `${userId}:reserve`, 'commit', 'done')).to.deep.equal({ settled: 'commit' });
      // A late release of the same reservation (e.g. a retried cancel) changes nothing.
      expect(await settleReservation(em, userId, 2, `${userId}:reserve`, 'release', 'late')).to.deep.equal({ settled: 'commit' });
      expect(await getBalance(em, userId)).to.deep.equal({ balance: 3, reserved: 0 });
      expect(await em.count(CreditTransaction, { userId })).to.equal(3);
    });

    it('refuses a reservation larger than the balance with InsufficientCredits and records nothing', async () => {
      const userId = randomUUID();
      const em = orm.em.fork();
      await grantPeriodCredits(em, userId, 1, `grant:${userId}:p1`, 'test');
      const err = await reserveCredits(em, userId, 2, `${userId}:big`, 'analysis').catch((e) => e);
      expect(err).to.be.instanceOf(DomainError);
      expect(err.type).to.equal(ErrorType.InsufficientCredits);
      expect(err.details).to.deep.equal({ needed: 2, available: 1 });
      expect(await getBalance(orm.em.fork(), userId)).to.deep.equal({ balance: 1, reserved: 0 });
    });

    it('never overdraws under concurrent reservations', async () => {
      const userId = randomUUID();
      await grantPeriodCredits(orm.em.fork(), userId, 3, `grant:${userId}:p1`, 'test');
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => reserveCredits(orm.em.fork(), userId, 1, `${userId}:r${i}`, 'race')));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(3);
      expect(await getBalance(orm.em.fork(), userId)).to.deep.equal({ balance: 0, reserved: 3 });
    });
  });

  describe('notify activities (real Postgres, MockActivityEnvironment)', () => {
    const sent: OutgoingEmail[] = [];
    let behaviour: 'ok' | 'transient' | 'permanent' = 'ok';
    const mailer: Mailer = {
      name: 'fake-provider',
      async send(email) {
        // Provider messages quote the address and request ids: never stored (lastError is ours).
        if (behaviour === 'transient') throw new Error('503 from provider req_8f2k at 10.0.4.2');
        if (behaviour === 'permanent') throw new PermanentEmailError('Resend refused the email to x@invalid: validation_error: bad to', 422, 'validation_error');
        sent.push(email);
        return { id: `m-${sent.length}` };
      },
    };
    const acts = () => createNotifyActivities({ orm, mailer, logger: createLogger({ level: 'silent', name: 't' }) });

    it('sends an email once per key: a retry after success is a no-op', async () => {
      const env = new MockActivityEnvironment(undefined, { logger: quietLogger });
      const key = `test:${randomUUID()}`;
      const first: EmailResult = await env.run(acts().sendEmail, { key, to: 'a@example.test', subject: 'S', text: 'T' });
      const second: EmailResult = await env.run(acts().sendEmail, { key, to: 'a@example.test', subject: 'S', text: 'T' });
      expect(first.status).to.equal('sent');
      expect(second).to.deep.equal({ status: 'already-sent', outboxId: first.outboxId });
      expect(sent.filter((e) => e.idempotencyKey === key)).to.have.length(1);
      const row = await orm.em.fork().findOneOrFail(EmailOutbox, { key });
      expect(row).to.include({ status: 'sent', provider: 'fake-provider', attempts: 1 });
    });

    it('keeps the outbox row pending on a transient provider error (retryable) and fails for good on a permanent one', async () => {
      const env = new MockActivityEnvironment(undefined, { logger: quietLogger });
      const key = `test:${randomUUID()}`;
      behaviour = 'transient';
      const transient = await env.run(acts().sendEmail, { key, to: 'b@example.test', subject: 'S', text: 'T' }).catch((e) => e);
      expect(transient).to.be.instanceOf(Error).and.not.instanceOf(ApplicationFailure);
      expect((await orm.em.fork().findOneOrFail(EmailOutbox, { key })).lastError).to.equal('the email could not be handed to fake-provider (Error)');
      behaviour = 'ok';
      expect(((await env.run(acts().sendEmail, { key, to: 'b@example.test', subject: 'S', text: 'T' })) as EmailResult).status).to.equal('sent');
      expect((await orm.em.fork().findOneOrFail(EmailOutbox, { key })).attempts).to.equal(2);

      const badKey = `test:${randomUUID()}`;
      behaviour = 'permanent';
      const permanent: any = await env.run(acts().sendEmail, { key: badKey, to: 'x@invalid', subject: 'S', text: 'T' }).catch((e) => e);
      behaviour = 'ok';
      expect(permanent).to.be.instanceOf(ApplicationFailure);
      expect(permanent.nonRetryable).to.equal(true);
      const failed = await orm.em.fork().findOneOrFail(EmailOutbox, { key: badKey });
      expect(failed).to.include({ status: 'failed', lastError: 'fake-provider refused the email for good (HTTP 422, validation_error)' });
      expect(permanent.message).to.equal(failed.lastError);
    });

    it('creates one in-app notification per key', async () => {
      const env = new MockActivityEnvironment(undefined, { logger: quietLogger });
      const key = `test:${randomUUID()}`;
      const userId = randomUUID();
      const a: { notificationId: string; created: boolean } = await env.run(acts().notifyInApp, { key, userId, kind: 'k', title: 't', body: 'b' });
      const b = await env.run(acts().notifyInApp, { key, userId, kind: 'k', title: 't', body: 'b' });
      expect(a.created).to.equal(true);
      expect(b).to.deep.equal({ notificationId: a.notificationId, created: false });
      expect(await orm.em.fork().count(Notification, { key })).to.equal(1);
    });
  });

  describe('findUsersMissingWelcome (real Postgres)', () => {

    it('finds recent users older than the threshold with no welcome email in the outbox', async () => {
      const conn = orm.em.fork().getConnection();
      const insert = async (minutesAgo: number) => {
        const id = randomUUID();
        await conn.execute(
          `insert into users (id, created_at, updated_at, email, password_hash, first_name, last_name) values (?, now() - make_interval(mins => ?), now(), ?, 'x', 'A', 'B')`,
          [id, minutesAgo, `${id}@example.test`],
        );
        return id;
      };
      const missing = await insert(30);
      const welcomed = await insert(30);
      const fresh = await insert(1);
      const ancient = await insert(60 * 24 * 30);
      await conn.execute(`insert into email_outbox (id, created_at, updated_at, key, "to", subject, text) values (gen_random_uuid(), now(), now(), ?, 'x', 's', 't')`, [`welcome:${welcomed}`]);
      const found = await createAccountsActivities({ orm, mailer: { name: 'unused', send: () => Promise.reject(new Error('no email in this test')) }, logger: createLogger({ level: 'silent', name: 't' }) }).findUsersMissingWelcome({ olderThanMinutes: 10, withinDays: 7, limit: 10_000 });
      expect(found).to.include(missing);
      expect(found).not.to.include.members([welcomed, fresh, ancient]);
    });
  });

  describe('grantFreePlanCreditsBatch (real Postgres)', () => {

    it('resets free users to the monthly allowance once per period and leaves paid users alone', async () => {
      const conn = orm.em.fork().getConnection();
      const insert = async (plan: string) => {
        const id = randomUUID();
        await conn.execute(`insert into users (id, created_at, updated_at, email, password_hash, first_name, last_name, plan) values (?, now(), now(), ?, 'x', 'A', 'B', ?)`, [id, `${id}@example.test`, plan]);
        return id;
      };
      const free = await insert('free');
      const paid = await insert('pro');
      await grantPeriodCredits(orm.em.fork(), paid, 150, `grant:${paid}:p`, 'pro');
      await grantPeriodCredits(orm.em.fork(), free, 3, `grant:${free}:signup`, 'signup');
      await reserveCredits(orm.em.fork(), free, 3, `${free}:spent`, 'used');
      await settleReservation(orm.em.fork(), free, 3, `${free}:spent`, 'commit', 'used');
      expect(await getBalance(orm.em.fork(), free)).to.deep.equal({ balance: 0, reserved: 0 });

      const acts = createAccountsActivities({ orm, mailer: { name: 'unused', send: () => Promise.reject(new Error('no email in this test')) }, logger: createLogger({ level: 'silent', name: 't' }) });
      const period = `t-${randomUUID().slice(0, 8)}`;
      let afterId: string | null = null;
      do afterId = (await acts.grantFreePlanCreditsBatch({ period, afterId, limit: 1000 })).lastId;
      while (afterId);
      await acts.grantFreePlanCreditsBatch({ period, afterId: null, limit: 100_000 });
      expect(await getBalance(orm.em.fork(), free)).to.deep.equal({ balance: 3, reserved: 0 });
      expect(await getBalance(orm.em.fork(), paid)).to.deep.equal({ balance: 150, reserved: 0 });
      expect(await orm.em.fork().count(CreditTransaction, { key: `grant:${free}:free:${period}` })).to.equal(1);
    });
  });
});
