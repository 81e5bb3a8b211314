import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, eventually, registerUser, uniqueEmail, type ApiClient } from '../support/http';
import { welcomeWorkflowId } from '../../workflows/ids';

describe('accounts through the HTTP API', () => {
  let stack: TestStack;
  let api: ApiClient;

  before(async function () {
    this.timeout(180_000);
    stack = await startTestStack();
    api = apiClient(stack.baseUrl);
  });
  after(async () => {
    await stack?.close();
  });

  it('registers a user with an own organization, free credits and a welcome workflow that emails once', async () => {
    const reg = await registerUser(api, { firstName: 'Jeanne' });
    expect(reg.user.plan).to.equal('free');
    expect(reg.user.organizations).to.have.length(1);
    expect(reg.user.organizations[0].role).to.equal('owner');
    expect(reg.user.credits.balance).to.equal(3);

    const client = await stack.temporal.client();
    const handle = client.workflow.getHandle(welcomeWorkflowId(reg.user.id));
    expect(await handle.result()).to.deep.equal({ emailed: true });
    const mails = stack.resend.emails.filter((m) => m.to.includes(reg.email));
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
    expect(wrong.status).to.equal(400);
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
    const created = await api.post('/api/auth/api-keys', { name: 'stable pc' }, reg.accessToken);
    expect(created.status).to.equal(201);
    const withKey = await api.call('GET', '/api/auth/me', { headers: { 'x-api-key': created.body.key } });
    expect(withKey.status).to.equal(200);
    expect(withKey.body.id).to.equal(reg.user.id);
    expect((await api.delete(`/api/auth/api-keys/${created.body.id}`, reg.accessToken)).status).to.equal(204);
    expect((await api.call('GET', '/api/auth/me', { headers: { 'x-api-key': created.body.key } })).status).to.equal(401);
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
