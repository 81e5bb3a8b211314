import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser, registerVerifiedUser, uniqueEmail } from '../support/http';
import { TaskQueue } from '../../workflows/queues';

describe('organizations and members through the HTTP API', () => {
  // The accounts worker sends verification and invitation emails.
  const { stack, api } = useTestStack({ queues: [TaskQueue.accounts] });

  /** Invites by email and accepts as the invitee: the one way into an organization. */
  async function join(orgId: string, inviter: { accessToken: string }, invitee: { email: string; accessToken: string }, role = 'member') {
    const invitation = await api.post(`/api/organizations/${orgId}/invitations`, { email: invitee.email, role }, inviter.accessToken);
    expect(invitation.status, JSON.stringify(invitation.body)).to.equal(201);
    const accepted = await api.post(`/api/invitations/${invitation.body.id}/accept`, {}, invitee.accessToken);
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
  }

  it('lets an invited member who accepted see and edit the stable horses, and cuts access when removed', async () => {
    const owner = await registerVerifiedUser(api, stack.resend);
    const rider = await registerVerifiedUser(api, stack.resend);
    const orgId = owner.user.defaultOrganizationId;
    const horse = (await api.post('/api/horses', { name: 'Shared', gender: 'mare' }, owner.accessToken)).body;
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(404);

    await join(orgId, owner, rider);
    const members = await api.get(`/api/organizations/${orgId}/members`, owner.accessToken);
    expect(members.body.find((m: { email: string }) => m.email === rider.email)).to.include({ role: 'member', userId: rider.user.id });
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(200);
    const orgs = await api.get('/api/organizations', rider.accessToken);
    expect(orgs.body.map((o: { id: string; role: string }) => [o.id === orgId, o.role])).to.deep.include([true, 'member']);

    // A plain member cannot invite.
    expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('third') }, rider.accessToken)).status).to.equal(403);

    expect((await api.delete(`/api/organizations/${orgId}/members/${rider.user.id}`, owner.accessToken)).status).to.equal(204);
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(404);
  });

  it('keeps at least one owner, refuses members and bad roles, and hides foreign organizations', async () => {
    const owner = await registerVerifiedUser(api, stack.resend);
    const other = await registerVerifiedUser(api, stack.resend);
    const orgId = owner.user.defaultOrganizationId;
    expect((await api.delete(`/api/organizations/${orgId}/members/${owner.user.id}`, owner.accessToken)).status).to.equal(409);
    expect((await api.patch(`/api/organizations/${orgId}/members/${owner.user.id}`, { role: 'admin' }, owner.accessToken)).status).to.equal(409);
    await join(orgId, owner, other, 'admin');
    expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: other.email }, owner.accessToken)).status).to.equal(409);
    // An admin cannot make owners.
    const otherToken = (await api.post('/api/auth/login', { email: other.email, password: other.password })).body.accessToken;
    expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('third'), role: 'owner' }, otherToken)).status).to.equal(403);
    const stranger = await registerUser(api);
    expect((await api.get(`/api/organizations/${orgId}/members`, stranger.accessToken)).status).to.equal(404);
    expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('x') }, stranger.accessToken)).status).to.equal(404);
    const bad = await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('third'), role: 'king' }, owner.accessToken);
    expect(bad.status).to.equal(400);
    expect(bad.body.details[0].field).to.equal('role');
    expect((await api.get(`/api/organizations/${orgId}/invitations`, owner.accessToken)).body.map((i: { role: string }) => i.role)).to.deep.equal(['admin']);
  });

  it('creates a second stable and puts horses into it on request', async () => {
    const owner = await registerUser(api);
    const created = await api.post('/api/organizations', { name: 'Summer yard' }, owner.accessToken);
    expect(created.status).to.equal(201);
    const horse = await api.post('/api/horses', { name: 'Yard horse', gender: 'gelding', organizationId: created.body.id }, owner.accessToken);
    expect(horse.body.organizationId).to.equal(created.body.id);
    const filtered = await api.get(`/api/horses?organizationId=${created.body.id}`, owner.accessToken);
    expect(filtered.body.items.map((h: { name: string }) => h.name)).to.deep.equal(['Yard horse']);
  });
});
