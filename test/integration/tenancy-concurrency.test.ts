import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser, registerVerifiedUser } from '../support/http';
import { addDaysIso, dateOf } from '../../domain/gestation';
import { Horse, Membership } from '../../entities';

/**
 * Requests that race: each pair below used to pass its checks on a stale read and both
 * commit. The answers may be 200/409/403 in any order; the invariants must hold every time.
 */
describe('tenancy under concurrent requests', () => {
  const daysAgo = (n: number) => addDaysIso(dateOf(Date.now()), -n);
  const { stack, api } = useTestStack();

  /** An organization with two owners, A (its creator) and B. */
  async function twoOwners() {
    const a = await registerVerifiedUser(api, stack.resend);
    const b = await registerVerifiedUser(api, stack.resend);
    const orgId = a.user.organizations[0].organizationId as string;
    const invitation = await api.post(`/api/organizations/${orgId}/invitations`, { email: b.email, role: 'owner' }, a.accessToken);
    expect(invitation.status, JSON.stringify(invitation.body)).to.equal(201);
    const accepted = await api.post(`/api/invitations/${invitation.body.id}/accept`, {}, b.accessToken);
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    return { a, b, orgId };
  }
  const owners = (orgId: string) => stack.orm.em.fork().count(Membership, { organization: orgId, role: 'owner' });

  it('given two owners demoting each other at the same moment, the organization keeps an owner', async function () {
    this.timeout(120_000);
    for (let round = 0; round < 6; round++) {
      const { a, b, orgId } = await twoOwners();
      const results = await Promise.all([
        api.patch(`/api/organizations/${orgId}/members/${b.user.id}`, { role: 'member' }, a.accessToken),
        api.patch(`/api/organizations/${orgId}/members/${a.user.id}`, { role: 'member' }, b.accessToken),
      ]);
      expect(results.filter((r) => r.status === 200), `round ${round}: ${results.map((r) => r.status)}`).to.have.length.at.most(1);
      expect(await owners(orgId), `round ${round}`).to.equal(1);
    }
  });

  it('given two owners leaving at the same moment, the organization keeps an owner', async function () {
    this.timeout(120_000);
    for (let round = 0; round < 6; round++) {
      const { a, b, orgId } = await twoOwners();
      const results = await Promise.all([
        api.delete(`/api/organizations/${orgId}/members/${a.user.id}`, a.accessToken),
        api.delete(`/api/organizations/${orgId}/members/${b.user.id}`, b.accessToken),
      ]);
      expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([204, 409]);
      expect(await owners(orgId), `round ${round}`).to.equal(1);
    }
  });

  it('given two concurrent foalings of one gestation, exactly one foal is created', async function () {
    this.timeout(120_000);
    const reg = await registerUser(api);
    const token = reg.accessToken;
    for (let round = 0; round < 4; round++) {
      const mare = (await api.post('/api/horses', { name: `Mare ${round}`, gender: 'mare' }, token)).body;
      const g = await api.post('/api/gestations', { mareId: mare.id, stallionName: 'Sire', coverDates: [daysAgo(335)], method: 'natural' }, token);
      expect(g.status, JSON.stringify(g.body)).to.equal(201);
      const foaling = { date: daysAgo(1), foal: { name: `Foal ${round}`, sex: 'filly' } };
      const results = await Promise.all([1, 2, 3].map(() => api.post(`/api/gestations/${g.body.id}/foaling`, foaling, token)));
      expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([201, 409, 409]);
      expect(await stack.orm.em.fork().count(Horse, { damId: mare.id }), `round ${round}`).to.equal(1);
    }
  });
});
