import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerUser, uniqueEmail } from '../support/http';
import { welcomeWorkflowId } from '../../workflows/ids';
import { ApiKey } from '../../entities';

describe('accounts through the HTTP API', () => {
  const { stack, api } = useTestStack();

  it('registers a user with an own organization, free credits and a welcome workflow that emails once', async () => {
    const reg = await registerUser(api, { firstName: 'Jeanne' });
    expect(reg.user.plan).to.equal('free');
    expect(reg.user.organizations).to.have.length(1);
    expect(reg.user.organizations[0].role).to.equal('owner');
    expect(reg.user.credits.balance).to.equal(3);

    const client = await stack.temporal.client();
    const handle = client.workflow.getHandle(welcomeWorkflowId(reg.user.id));
    expect(await handle.result()).to.deep.equal({ emailed: true });
    // The verification email is the other one this address receives (accounts.test.ts).
    const mails = stack.resend.emails.filter((m) => m.to.includes(reg.email) && m.idempotencyKey?.startsWith('welcome:'));
    expect(mails).to.have.length(1);
    expect(mails[0].subject).to.equal('Welcome to Horse Tempo');
    expect(mails[0].text).to.contain('Hello Jeanne');

    const notes = await api.get('/api/notifications', reg.accessToken);
    expect(notes.body.items.map((n: { kind: string }) => n.kind)).to.deep.equal(['welcome']);
  });

  it('rejects a duplicate email with 409 naming the field, and creates nothing', async () => {
    const reg = await registerUser(api);
    const again = await api.post('/api/auth/register', { email: reg.email.toUpperCase(), password: 'An0therPass', firstName: 'B', lastName: 'C' });
    expect(again.status).to.equal(409);
    expect(again.body.details[0].field).to.equal('email');
    expect(again.body.requestId).to.be.a('string').with.length.greaterThan(0);
  });

  it('rejects a weak password, a bad email and unknown fields with 400 saying which field and rule', async () => {
    const weak = await api.post('/api/auth/register', { email: uniqueEmail(), password: 'short', firstName: 'A', lastName: 'B' });
    expect(weak.status).to.equal(400);
    expect(weak.body.details[0].field).to.equal('password');
    expect(weak.body.message).to.match(/at least 8 characters/);

    const badEmail = await api.post('/api/auth/register', { email: 'not-an-email', password: 'Str0ngPassw0rd', firstName: 'A', lastName: 'B' });
    expect(badEmail.status).to.equal(400);
    expect(badEmail.body.details[0].field).to.equal('email');

    const extra = await api.post('/api/auth/register', { email: uniqueEmail(), password: 'Str0ngPassw0rd', firstName: 'A', lastName: 'B', isAdmin: true });
    expect(extra.status).to.equal(400);
    expect(extra.body.message).to.match(/isAdmin|Unrecognized/i);
  });

  it('answers malformed JSON, a wrong content type and an oversized body with a clear 4xx', async () => {
    const malformed = await api.call('POST', '/api/auth/login', { raw: '{"email": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).to.equal(400);
    expect(malformed.body.message).to.match(/Malformed JSON/);
    const form = await api.call('POST', '/api/auth/login', { raw: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).to.equal(415);
    const huge = await api.call('POST', '/api/auth/login', { raw: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(200_000) }), headers: { 'content-type': 'application/json' } });
    expect(huge.status).to.equal(413);
    expect(huge.body).to.include.keys('statusCode', 'error', 'message', 'requestId');
  });

  it('logs in, refreshes with rotation, and revokes the whole family when an old refresh token is reused', async () => {
    const reg = await registerUser(api);
    const login = await api.post('/api/auth/login', { email: reg.email, password: reg.password });
    expect(login.status).to.equal(200);
    expect(login.body).to.include.keys('accessToken', 'refreshToken', 'expiresIn');

    const first = await api.post('/api/auth/refresh', { refreshToken: login.body.refreshToken });
    expect(first.status).to.equal(200);
    expect(first.body.refreshToken).to.not.equal(login.body.refreshToken);

    const reuse = await api.post('/api/auth/refresh', { refreshToken: login.body.refreshToken });
    expect(reuse.status).to.equal(401);
    expect(reuse.body.message).to.match(/already used/);

    // The token issued by the legitimate rotation died with its family.
    const afterReuse = await api.post('/api/auth/refresh', { refreshToken: first.body.refreshToken });
    expect(afterReuse.status).to.equal(401);

    // The other login (from register) is a different family and still works.
    const other = await api.post('/api/auth/refresh', { refreshToken: reg.refreshToken });
    expect(other.status).to.equal(200);
  });

  it('rejects wrong passwords, and missing, tampered or revoked tokens with 401', async () => {
    const reg = await registerUser(api);
    expect((await api.post('/api/auth/login', { email: reg.email, password: 'Wr0ngPassword' })).status).to.equal(401);
    expect((await api.get('/api/auth/me')).status).to.equal(401);
    const tampered = reg.accessToken.slice(0, -3) + (reg.accessToken.endsWith('abc') ? 'xyz' : 'abc');
    const bad = await api.get('/api/auth/me', tampered);
    expect(bad.status).to.equal(401);
    expect(bad.body.message).to.match(/Invalid access token/);

    const me = await api.get('/api/auth/me', reg.accessToken);
    expect(me.status).to.equal(200);
    expect(me.body.email).to.equal(reg.email);

    const logout = await api.post('/api/auth/logout', { refreshToken: reg.refreshToken }, reg.accessToken);
    expect(logout.status).to.equal(204);
    expect((await api.post('/api/auth/refresh', { refreshToken: reg.refreshToken })).status).to.equal(401);
  });

  it('changes the password: old password and old access tokens stop working, new ones work', async () => {
    const reg = await registerUser(api);
    const wrong = await api.post('/api/auth/change-password', { currentPassword: 'Nope12345', newPassword: 'N3wPassword!' }, reg.accessToken);
    expect(wrong.status).to.equal(422);
    expect(wrong.body.details[0].field).to.equal('currentPassword');

    const changed = await api.post('/api/auth/change-password', { currentPassword: reg.password, newPassword: 'N3wPassword!' }, reg.accessToken);
    expect(changed.status).to.equal(200);
    expect((await api.get('/api/auth/me', reg.accessToken)).status).to.equal(401);
    expect((await api.get('/api/auth/me', changed.body.accessToken)).status).to.equal(200);
    expect((await api.post('/api/auth/login', { email: reg.email, password: reg.password })).status).to.equal(401);
    expect((await api.post('/api/auth/login', { email: reg.email, password: 'N3wPassword!' })).status).to.equal(200);
  });

  it('authenticates with an API key until it is revoked', async () => {
    const reg = await registerUser(api);
    const created = await api.post('/api/auth/api-keys', { name: 'stable pc', scopes: ['read'], currentPassword: reg.password }, reg.accessToken);
    expect(created.status).to.equal(201);
    const withKey = await api.call('GET', '/api/auth/me', { headers: { 'x-api-key': created.body.key } });
    expect(withKey.status).to.equal(200);
    expect(withKey.body.id).to.equal(reg.user.id);
    expect((await api.delete(`/api/auth/api-keys/${created.body.id}`, reg.accessToken)).status).to.equal(204);
    expect((await api.call('GET', '/api/auth/me', { headers: { 'x-api-key': created.body.key } })).status).to.equal(401);
  });

  describe('API keys: password to create, scopes on every route, expiry, revoked by a password change, last use shown', () => {
    const withKey = (key: string) => ({
      get: (path: string) => api.call('GET', path, { headers: { 'x-api-key': key } }),
      post: (path: string, body: unknown) => api.call('POST', path, { body, headers: { 'x-api-key': key } }),
    });

    it('given only an access token (no current password, or a wrong one), refuses to mint a key and stores nothing', async () => {
      const reg = await registerUser(api);
      const none = await api.post('/api/auth/api-keys', { name: 'k', scopes: ['read'] }, reg.accessToken);
      expect(none.status).to.equal(400);
      expect(none.body.details[0].field).to.equal('currentPassword');
      const wrong = await api.post('/api/auth/api-keys', { name: 'k', scopes: ['read'], currentPassword: 'Wr0ngPassword' }, reg.accessToken);
      // Well-formed, refused by what is stored: 422 (401 would tell the client its token is bad).
      expect(wrong.status).to.equal(422);
      expect(wrong.body.message).to.match(/Current password is incorrect/);
      const noScope = await api.post('/api/auth/api-keys', { name: 'k', scopes: [], currentPassword: reg.password }, reg.accessToken);
      expect(noScope.status).to.equal(400);
      expect((await api.get('/api/auth/api-keys', reg.accessToken)).body).to.deep.equal([]);
    });

    it('enforces scopes: read-only reads and cannot write; a horses key writes horses only; no key manages keys', async () => {
      const reg = await registerUser(api);
      const mint = async (scopes: string[]) => (await api.post('/api/auth/api-keys', { name: scopes.join('+'), scopes, currentPassword: reg.password }, reg.accessToken)).body.key as string;
      const readOnly = withKey(await mint(['read']));
      const horses = withKey(await mint(['horses']));
      expect((await readOnly.get('/api/horses')).status).to.equal(200);
      const refused = await readOnly.post('/api/horses', { name: 'Nope', gender: 'mare' });
      expect(refused.status).to.equal(403);
      expect(refused.body.message).to.match(/lacks the 'horses' scope/);
      expect((await horses.post('/api/horses', { name: 'Yes', gender: 'mare' })).status).to.equal(201);
      expect((await horses.get('/api/notifications')).status).to.equal(403);
      expect((await horses.post('/api/gestations', { mareId: reg.user.id, stallionName: 'X', coverDates: ['2026-11-01'], method: 'natural' })).status).to.equal(403);
      const minted = await readOnly.post('/api/auth/api-keys', { name: 'escalate', scopes: ['billing'], currentPassword: reg.password });
      expect(minted.status).to.equal(403);
      const listed = (await api.get('/api/auth/api-keys', reg.accessToken)).body as { scopes: string[]; lastUsedAt: string | null }[];
      expect(listed).to.have.length(2);
      expect(listed.every((k) => k.lastUsedAt !== null)).to.equal(true);
    });

    it('refuses an expired key (401) and a past expiry at creation (422: a date relative to now)', async () => {
      const reg = await registerUser(api);
      const past = await api.post('/api/auth/api-keys', { name: 'k', scopes: ['read'], currentPassword: reg.password, expiresAt: '2020-01-01T00:00:00Z' }, reg.accessToken);
      expect(past.status).to.equal(422);
      const soon = await api.post('/api/auth/api-keys', { name: 'k', scopes: ['read'], currentPassword: reg.password, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }, reg.accessToken);
      expect(soon.status).to.equal(201);
      expect((await withKey(soon.body.key).get('/api/horses')).status).to.equal(200);
      await stack.orm.em.fork().nativeUpdate(ApiKey, { id: soon.body.id }, { expiresAt: new Date(Date.now() - 1000) });
      const expired = await withKey(soon.body.key).get('/api/horses');
      expect(expired.status).to.equal(401);
      expect(expired.body.message).to.match(/expired/);
    });

    it('revokes every key when the password changes', async () => {
      const reg = await registerUser(api);
      const key = (await api.post('/api/auth/api-keys', { name: 'k', scopes: ['read'], currentPassword: reg.password }, reg.accessToken)).body.key as string;
      expect((await withKey(key).get('/api/horses')).status).to.equal(200);
      const changed = await api.post('/api/auth/change-password', { currentPassword: reg.password, newPassword: 'N3wPassword!' }, reg.accessToken);
      expect(changed.status).to.equal(200);
      expect((await withKey(key).get('/api/horses')).status).to.equal(401);
      expect((await api.get('/api/auth/api-keys', changed.body.accessToken)).body).to.deep.equal([]);
    });
  });

  it('reports database and Temporal health, serves OpenAPI, docs and metrics', async () => {
    const health = await api.get('/api/health');
    expect(health.status).to.equal(200);
    expect(health.body.checks).to.deep.include({ database: { status: 'ok' } });
    expect(health.body.checks.temporal.status).to.equal('ok');
    const spec = await api.get('/api/openapi.json');
    expect(spec.body.openapi).to.equal('3.0.3');
    expect(spec.body.paths).to.have.property('/api/horses/{id}');
    expect(spec.body.paths['/api/auth/register'].post).to.have.property('requestBody');
    const docs = await fetch(`${stack.baseUrl}/api/docs/`);
    expect(docs.status).to.equal(200);
    expect(await docs.text()).to.contain('swagger-ui');
    const metrics = await fetch(`${stack.baseUrl}/metrics`);
    expect(await metrics.text()).to.contain('http_requests_total');
  });

  it('eventually marks the welcome email as sent in the outbox', async () => {
    const reg = await registerUser(api);
    const row = await eventually(async () => {
      const rows = await stack.orm.em.fork().getConnection().execute('select status from email_outbox where key = ?', [`welcome:${reg.user.id}`]);
      return rows[0]?.status === 'sent' ? rows[0] : null;
    });
    expect(row.status).to.equal('sent');
  });
});
