import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerVerifiedUser, uniqueEmail } from '../support/http';
import { Invitation, Membership } from '../../entities';

/**
 * API keys and invitations (domain/api-keys.ts): the 'organizations' scope is the
 * organization-admin scope — a key with it sends, lists and revokes invitations for an owner or
 * admin; 'read' does not list them (they name the people invited). An invitee's key may list
 * the invitations addressed to its owner, but never accepts or declines one: joining an
 * organization is the person's own decision, made signed in with their password.
 */
describe('API keys and invitations', () => {
  const { stack, api } = useTestStack({ queues: ['accounts'] });

  type Person = Awaited<ReturnType<typeof registerVerifiedUser>>;
  async function keyOf(person: Person, scopes: string[]): Promise<string> {
    const res = await api.post('/api/auth/api-keys', { name: `key ${scopes.join('+')}`, currentPassword: person.password, scopes }, person.accessToken);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.key;
  }
  const withKey = (key: string, method: string, path: string, body?: unknown) => api.call(method, path, { headers: { 'x-api-key': key }, body });
  const orgOf = (person: Person) => person.user.organizations[0].organizationId as string;

  it("lets an owner's key with the 'organizations' scope send, list and revoke invitations", async () => {
    const owner = await registerVerifiedUser(api, stack.resend);
    const key = await keyOf(owner, ['organizations']);
    const orgId = orgOf(owner);
    const email = uniqueEmail('invited-by-key');

    const sent = await withKey(key, 'POST', `/api/organizations/${orgId}/invitations`, { email, role: 'member' });
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
    const listed = await withKey(key, 'GET', `/api/organizations/${orgId}/invitations`);
    expect(listed.status).to.equal(200);
    expect(listed.body.map((i: { id: string; email: string }) => [i.id, i.email])).to.deep.equal([[sent.body.id, email]]);
    const revoked = await withKey(key, 'DELETE', `/api/organizations/${orgId}/invitations/${sent.body.id}`);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(204);
    expect((await stack.orm.em.fork().findOneOrFail(Invitation, { id: sent.body.id })).status).to.equal('revoked');
  });

  it("refuses invitations to keys without the 'organizations' scope (403 saying which scope) and writes nothing", async () => {
    const owner = await registerVerifiedUser(api, stack.resend);
    const orgId = orgOf(owner);
    const readKey = await keyOf(owner, ['read']);
    const horsesKey = await keyOf(owner, ['horses']);

    const list = await withKey(readKey, 'GET', `/api/organizations/${orgId}/invitations`);
    expect(list.status).to.equal(403);
    expect(list.body.message).to.match(/lacks the 'organizations' scope .*'read' does not list them/);
    const send = await withKey(horsesKey, 'POST', `/api/organizations/${orgId}/invitations`, { email: uniqueEmail('nope') });
    expect(send.status).to.equal(403);
    expect(send.body.message).to.match(/lacks the 'organizations' scope needed for POST/);
    expect(await stack.orm.em.fork().count(Invitation, { organization: orgId })).to.equal(0);
  });

  it("lets the invitee's key list the invitations addressed to its owner, refuses it accepting or declining one (403 saying why), and the person's own session accepts", async () => {
    const owner = await registerVerifiedUser(api, stack.resend);
    const invitee = await registerVerifiedUser(api, stack.resend);
    const orgId = orgOf(owner);
    const sent = await api.post(`/api/organizations/${orgId}/invitations`, { email: invitee.email, role: 'member' }, owner.accessToken);
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
    const key = await keyOf(invitee, ['organizations', 'read']);

    const mine = await withKey(key, 'GET', '/api/invitations');
    expect(mine.status).to.equal(200);
    expect(mine.body.map((i: { id: string }) => i.id)).to.deep.equal([sent.body.id]);

    for (const action of ['accept', 'decline']) {
      const res = await withKey(key, 'POST', `/api/invitations/${sent.body.id}/${action}`, {});
      expect(res.status, action).to.equal(403);
      expect(res.headers.get('content-type')).to.match(/application\/json/);
      expect(res.body.message).to.match(/API keys cannot accept or decline invitations: joining an organization is a decision the invited person makes signed in with their password/);
    }
    const em = stack.orm.em.fork();
    expect((await em.findOneOrFail(Invitation, { id: sent.body.id })).status).to.equal('pending');
    expect(await em.count(Membership, { organization: orgId, user: invitee.user.id })).to.equal(0);

    const accepted = await api.post(`/api/invitations/${sent.body.id}/accept`, {}, invitee.accessToken);
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    expect(await stack.orm.em.fork().count(Membership, { organization: orgId, user: invitee.user.id })).to.equal(1);
  });
});
