import { expect } from 'chai';
import { claimStatements, sqlLiteral } from '../../api/billing/stripe-event-claim';

describe('Stripe event claim statements', () => {
  const event = { id: 'evt_1', type: 'invoice.paid', objectId: 'in_1' };
  const rowId = '00000000-0000-4000-8000-000000000000';

  it('writes values as SQL literals that read back unchanged: quotes doubled, backslashes as E-strings, null as null', () => {
    expect(sqlLiteral("cus_o'k")).to.equal("'cus_o''k'");
    expect(sqlLiteral('cus_\\x')).to.equal(" E'cus_\\\\x'");
    expect(sqlLiteral(null)).to.equal('null');
  });

  it('begins the transaction, without waiting for the WAL flush at commit, in the same message as the claim', () => {
    const sql = claimStatements(event, { customer: 'cus_1', userIds: [] }, rowId);
    expect(sql.startsWith('begin;\nset local synchronous_commit = off;\nwith caller as (')).to.equal(true);
    expect(sql.match(/;/g)).to.have.length(2);
    expect(sql).to.contain(`'${rowId}'::uuid`).and.to.contain("'evt_1'").and.to.contain("'invoice.paid'").and.to.contain("'in_1'");
  });

  it('keeps only user ids that are UUIDs, in the order given, and at most three', () => {
    const [a, b, c, d] = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444'];
    const sql = claimStatements(event, { customer: null, userIds: ["x'::uuid or true --", a, null, undefined, b, c, d] }, rowId);
    expect(sql).to.not.contain('or true');
    expect(sql).to.not.contain(d);
    expect(sql).to.contain(`id in ('${a}'::uuid, '${b}'::uuid, '${c}'::uuid)`);
    expect(sql).to.contain(`case id when '${a}'::uuid then 1 when '${b}'::uuid then 2 else 3 end`);
    expect(sql).to.contain('stripe_customer_id = null');
  });
});
