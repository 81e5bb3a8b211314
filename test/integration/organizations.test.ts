import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, registerUser, type ApiClient } from '../support/http';

describe('organizations and members through the HTTP API', () => {
  let stack: TestStack;
  let api: ApiClient;
  before(async function () {
    this.timeout(180_000);
    stack = await startTestStack({ workers: false });
    api = apiClient(stack.baseUrl);
  });
  after(async () => {
    await stack?.close();
  });

  it('lets an added member see and edit the stable horses, and cuts access when removed', async () => {
    const owner = await registerUser(api);
    const rider = await registerUser(api);
    const orgId = owner.user.defaultOrganizationId;
    const horse = (await api.post('/api/horses', { name: 'Shared', gender: 'mare' }, owner.accessToken)).body;
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(404);

    const added = await api.post(`/api/organizations/${orgId}/members`, { email: rider.email }, owner.accessToken);
    expect(added.status).to.equal(201);
    expect(added.body).to.include({ email: rider.email, role: 'member' });
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(200);
    const orgs = await api.get('/api/organizations', rider.accessToken);
    expect(orgs.body.map((o: { id: string; role: string }) => [o.id === orgId, o.role])).to.deep.include([true, 'member']);

    // A plain member cannot manage members.
    const third = await registerUser(api);
    expect((await api.post(`/api/organizations/${orgId}/members`, { email: third.email }, rider.accessToken)).status).to.equal(403);

    expect((await api.delete(`/api/organizations/${orgId}/members/${rider.user.id}`, owner.accessToken)).status).to.equal(204);
    expect((await api.get(`/api/horses/${horse.id}`, rider.accessToken)).status).to.equal(404);
  });

  it('keeps at least one owner, refuses duplicates and unknown emails, and hides foreign organizations', async () => {
    const owner = await registerUser(api);
    const other = await registerUser(api);
    const orgId = owner.user.defaultOrganizationId;
    expect((await api.delete(`/api/organizations/${orgId}/members/${owner.user.id}`, owner.accessToken)).status).to.equal(409);
    expect((await api.patch(`/api/organizations/${orgId}/members/${owner.user.id}`, { role: 'admin' }, owner.accessToken)).status).to.equal(409);
    expect((await api.post(`/api/organizations/${orgId}/members`, { email: 'nobody@example.test' }, owner.accessToken)).status).to.equal(404);
    await api.post(`/api/organizations/${orgId}/members`, { email: other.email, role: 'admin' }, owner.accessToken);
    expect((await api.post(`/api/organizations/${orgId}/members`, { email: other.email }, owner.accessToken)).status).to.equal(409);
    // An admin cannot make owners.
    const third = await registerUser(api);
    expect((await api.post(`/api/organizations/${orgId}/members`, { email: third.email, role: 'owner' }, other.accessToken)).status).to.equal(403);
    const stranger = await registerUser(api);
    expect((await api.get(`/api/organizations/${orgId}/members`, stranger.accessToken)).status).to.equal(404);
    const bad = await api.post(`/api/organizations/${orgId}/members`, { email: third.email, role: 'king' }, owner.accessToken);
    expect(bad.status).to.equal(400);
    expect(bad.body.details[0].field).to.equal('role');
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
