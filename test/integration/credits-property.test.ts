import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { testDatabase } from '../support/infra';
import { createOrm, type MikroORM } from '../../entities/orm';
import { addCredits, getBalance, grantPeriodCredits, reserveCredits, settleReservation } from '../../entities/credit-ledger';
import { DomainError } from '../../domain/errors';

/**
 * Credits must not be creatable by timing: whatever order reservations, settlements, period
 * resets and top-ups arrive in, the spendable balance never exceeds what the current period
 * granted (its allowance plus top-ups since the reset).
 */
type Op =
  | { kind: 'reserve'; amount: number }
  | { kind: 'commit'; pick: number }
  | { kind: 'release'; pick: number }
  | { kind: 'reset'; amount: number }
  | { kind: 'topUp'; amount: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('reserve' as const), amount: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('commit' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('reset' as const), amount: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('topUp' as const), amount: fc.integer({ min: 1, max: 3 }) }),
);

describe('credit ledger properties (real Postgres)', () => {
  let orm: MikroORM;
  before(async function () {
    this.timeout(120_000);
    orm = await createOrm({ databaseUrl: (await testDatabase()).url });
  });
  after(async () => {
    await orm?.close();
  });

  it('given a reservation taken before a period reset, when it is released after the reset, then the balance is the new allowance', async () => {
    const userId = randomUUID();
    await grantPeriodCredits(orm.em.fork(), userId, 3, `grant:${userId}:p1`, 'free plan');
    await reserveCredits(orm.em.fork(), userId, 3, `${userId}:a1`, 'analysis');
    await grantPeriodCredits(orm.em.fork(), userId, 3, `grant:${userId}:p2`, 'free plan');
    expect(await settleReservation(orm.em.fork(), userId, 3, `${userId}:a1`, 'release', 'cancelled')).to.deep.equal({ settled: 'release' });
    expect(await getBalance(orm.em.fork(), userId)).to.deep.equal({ balance: 3, reserved: 0 });
  });

  it('given a reservation taken before a reset, when it is committed after the reset, then the new allowance is untouched', async () => {
    const userId = randomUUID();
    await grantPeriodCredits(orm.em.fork(), userId, 3, `grant:${userId}:p1`, 'free plan');
    await reserveCredits(orm.em.fork(), userId, 2, `${userId}:a1`, 'analysis');
    await grantPeriodCredits(orm.em.fork(), userId, 3, `grant:${userId}:p2`, 'free plan');
    await settleReservation(orm.em.fork(), userId, 2, `${userId}:a1`, 'commit', 'done');
    expect(await getBalance(orm.em.fork(), userId)).to.deep.equal({ balance: 3, reserved: 0 });
  });

  it('given any sequence of reserve/commit/release/reset/top-up, the balance never exceeds what the current period granted', async function () {
    this.timeout(300_000);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), async (ops) => {
        const userId = randomUUID();
        let granted = 0; // allowance of the current period + top-ups since its reset
        let seq = 0;
        const open: { key: string; amount: number }[] = [];
        for (const o of ops) {
          const em = orm.em.fork();
          seq += 1;
          if (o.kind === 'reserve') {
            const key = `${userId}:r${seq}`;
            try {
              await reserveCredits(em, userId, o.amount, key, 'prop');
              open.push({ key, amount: o.amount });
            } catch (e) {
              if (!(e instanceof DomainError)) throw e;
            }
          } else if (o.kind === 'commit' || o.kind === 'release') {
            if (open.length === 0) continue;
            const [r] = open.splice(o.pick % open.length, 1);
            await settleReservation(em, userId, r!.amount, r!.key, o.kind, 'prop');
          } else if (o.kind === 'reset') {
            await grantPeriodCredits(em, userId, o.amount, `${userId}:g${seq}`, 'prop');
            granted = o.amount;
          } else {
            await addCredits(em, userId, o.amount, `${userId}:t${seq}`, 'prop');
            granted += o.amount;
          }
          const { balance, reserved } = await getBalance(orm.em.fork(), userId);
          expect(balance, `after ${JSON.stringify(o)} in ${JSON.stringify(ops)}`).to.be.at.most(granted);
          expect(balance).to.be.at.least(0);
          expect(reserved).to.equal(open.reduce((s, r) => s + r.amount, 0));
        }
      }),
      { numRuns: 60 },
    );
  });
});
