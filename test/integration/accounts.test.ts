import { expect } from 'chai';
import pino from 'pino';
import pg from 'pg';
import { useTestStack } from '../support/use-test-stack';
import { emailedLinkToken, registerUser, registerVerifiedUser, uniqueEmail } from '../support/http';
import { waitFor } from '../support/wait';
import { expireAccountTokens, expireInvitation } from '../support/expiry';
import { accountEmailWorkflowId } from '../../workflows/ids';
import { createAccountEmailActivities } from '../../activities/accounts/emails';
import { ResendMailer } from '../../adapters/email/mailer';
import { accountTokenFor, createAccountToken } from '../../entities/account-tokens';
import { accountEmailsReconcile } from '../../workflows/accounts/accountEmailsReconcile';
import { TaskQueue } from '../../workflows/queues';

/**
 * Email verification, password reset and invitations, attacked through the HTTP API:
 * real Postgres, Temporal, workers, and emails read from the Resend stand-in.
 */
describe('accounts: verification, password reset, invitations', () => {
  const { stack, api } = useTestStack();

  const sql = <T = any>(text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute(text, params) as Promise<T[]>;
  const mailsTo = (to: string, keyPrefix?: string) => stack.resend.emails.filter((m) => m.to.includes(to) && (!keyPrefix || m.idempotencyKey?.startsWith(keyPrefix)));
  const tokenIdOf = async (userId: string, purpose: string) =>
    (await sql<{ id: string }>('select id from account_tokens where user_id = ? and purpose = ? order by created_at desc limit 1', [userId, purpose]))[0].id;
  /** Temporal payloads are bytes: decode them so a search of the history sees what it carries. */
  const historyText = async (workflowId: string) => {
    const handle = (await stack.temporal.client()).workflow.getHandle(workflowId);
    await handle.result();
    return JSON.stringify(await handle.fetchHistory(), (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
  };

  describe('email verification', () => {
    it('emails one verification link whose token is nowhere in the database, the outbox or the Temporal history', async () => {
      const reg = await registerUser(api, { firstName: 'Vera' });
      expect(reg.user).to.include({ emailVerified: false });
      const token = await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      const tokenId = await tokenIdOf(reg.user.id, 'verify-email');

      const history = await historyText(accountEmailWorkflowId('verify-email', tokenId));
      expect(history).to.not.contain(token);
      expect(history).to.not.contain(reg.email);
      const rows = await sql('select * from account_tokens where user_id = ?', [reg.user.id]);
      expect(JSON.stringify(rows)).to.not.contain(token);
      const outbox = await sql<{ text: string; status: string }>('select text, status from email_outbox where key = ?', [`verify-email:${tokenId}`]);
      expect(outbox).to.have.length(1);
      expect(outbox[0].status).to.equal('sent');
      expect(outbox[0].text).to.not.contain(token);
      expect(outbox[0].text).to.contain('link withheld');
      expect(mailsTo(reg.email, 'verify-email:')).to.have.length(1);
      expect(mailsTo(reg.email, 'verify-email:')[0].text).to.contain(`${stack.config.APP_URL}/verify-email#token=${token}`);
    });

    it('sends the same single email when the send is retried after a crash between the provider accepting it and the outbox marking it', async () => {
      const reg = await registerUser(api);
      const token = await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      const tokenId = await tokenIdOf(reg.user.id, 'verify-email');
      await (await stack.temporal.client()).workflow.getHandle(accountEmailWorkflowId('verify-email', tokenId)).result();
      // The crash: the provider has the email, our row still says pending.
      await sql(`update email_outbox set status = 'pending', sent_at = null where key = ?`, [`verify-email:${tokenId}`]);
      const acts = createAccountEmailActivities({
        orm: stack.orm,
        logger: pino({ level: 'silent' }),
        config: stack.config,
        mailer: new ResendMailer(stack.config.RESEND_API_KEY!, stack.config.EMAIL_FROM, stack.config.RESEND_BASE_URL),
      });
      expect(await acts.deliverAccountEmail({ kind: 'verify-email', id: tokenId })).to.deep.equal({ status: 'sent' });
      const mails = mailsTo(reg.email, 'verify-email:');
      expect(mails, 'the provider deduplicated the retry by its idempotency key').to.have.length(1);
      expect(mails[0].text).to.contain(token);
      const [row] = await sql<{ provider_message_id: string }>('select provider_message_id from email_outbox where key = ?', [`verify-email:${tokenId}`]);
      expect(row.provider_message_id, 'the retry reached the provider and got the first message back').to.equal(mails[0].id);
      // A second start of the same workflow finds the finished run: no second email either.
      const client = await stack.temporal.client();
      const again = await client.workflow
        .start('accountEmail', { taskQueue: 'accounts', workflowId: accountEmailWorkflowId('verify-email', tokenId), args: [{ kind: 'verify-email', id: tokenId }], workflowIdReusePolicy: 'REJECT_DUPLICATE' })
        .catch((e: Error) => e);
      expect(again).to.be.instanceOf(Error);
      expect(mailsTo(reg.email, 'verify-email:')).to.have.length(1);
    });

    it('sends, once, the email of a link whose workflow never started (the API died between commit and start)', async () => {
      const reg = await registerUser(api);
      await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      // What a resend leaves behind when the process dies after its commit: a token row, no workflow.
      const em = stack.orm.em.fork();
      const orphan = createAccountToken(em, stack.config.JWT_SECRET, { userId: reg.user.id, purpose: 'verify-email', ttlMs: 3_600_000 });
      await em.flush();
      await sql(`update account_tokens set created_at = now() - interval '10 minutes' where id = ?`, [orphan.id]);
      const client = await stack.temporal.client();
      const sweep = () => client.workflow.execute(accountEmailsReconcile, { taskQueue: TaskQueue.accounts, workflowId: `account-emails-reconcile-test-${orphan.id}-${Date.now()}`, args: [{}] });
      // (The account-emails-reconcile Schedule of the stack's worker may get there first: either way, one email.)
      await sweep();
      const token = await emailedLinkToken(stack.resend, reg.email, 'verify-email', 1);
      expect(token).to.equal(accountTokenFor(stack.config.JWT_SECRET, orphan.id));
      await client.workflow.getHandle(accountEmailWorkflowId('verify-email', orphan.id)).result();
      await sweep();
      expect(mailsTo(reg.email, 'verify-email:')).to.have.length(2);
      expect((await api.post('/api/auth/verification/confirm', { token })).status).to.equal(200);
    });

    it('refuses an unverified account credits and invitations, tells it what to do, and lets it sign in', async () => {
      const reg = await registerUser(api);
      const me = await api.get('/api/auth/me', reg.accessToken);
      expect(me.status).to.equal(200);
      expect(me.body.emailVerified).to.equal(false);
      expect(me.body.actionsRequired.map((a: { action: string }) => a.action)).to.deep.equal(['verify-email']);
      expect(me.body.actionsRequired[0].message).to.contain('POST /api/auth/verification/resend');
      expect((await api.post('/api/auth/login', { email: reg.email, password: reg.password })).status).to.equal(200);

      const spend = await api.post('/api/analyses', { horseId: crypto.randomUUID(), type: 'locomotion', videoKey: 'x' }, reg.accessToken);
      expect(spend.status).to.equal(403);
      expect(spend.body.message).to.contain('Confirm your email address');
      const invite = await api.post(`/api/organizations/${reg.user.defaultOrganizationId}/invitations`, { email: uniqueEmail('friend') }, reg.accessToken);
      expect(invite.status).to.equal(403);
      expect((await sql('select 1 from invitations where organization_id = ?', [reg.user.defaultOrganizationId])).length).to.equal(0);

      const token = await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      expect((await api.post('/api/auth/verification/confirm', { token })).status).to.equal(200);
      const after = await api.get('/api/auth/me', reg.accessToken);
      expect(after.body).to.include({ emailVerified: true });
      expect(after.body.actionsRequired).to.deep.equal([]);
      expect(after.body.credits.balance).to.equal(3);
    });

    it('refuses a used token, an expired token and a malformed one; another user\'s token verifies only that user', async () => {
      const a = await registerUser(api);
      const b = await registerUser(api);
      const tokenA = await emailedLinkToken(stack.resend, a.email, 'verify-email');
      const tokenB = await emailedLinkToken(stack.resend, b.email, 'verify-email');

      expect((await api.post('/api/auth/verification/confirm', { token: tokenB })).status).to.equal(200);
      expect((await api.get('/api/auth/me', a.accessToken)).body.emailVerified, 'B\'s token does not verify A').to.equal(false);
      const reused = await api.post('/api/auth/verification/confirm', { token: tokenB });
      expect(reused.status).to.equal(422);
      expect(reused.body.details[0]).to.include({ field: 'token', message: 'is invalid or already used' });

      await expireAccountTokens(stack.orm, a.user.id, 'verify-email');
      const expired = await api.post('/api/auth/verification/confirm', { token: tokenA });
      expect(expired.status).to.equal(422);
      expect(expired.body.details[0].message).to.equal('has expired');
      expect((await api.get('/api/auth/me', a.accessToken)).body.emailVerified).to.equal(false);

      const malformed = await api.post('/api/auth/verification/confirm', { token: 'hta_short' });
      expect(malformed.status).to.equal(400);
      expect(malformed.body.details[0].field).to.equal('token');
    });

    it('lets exactly one of two concurrent uses of a token through', async () => {
      const reg = await registerUser(api);
      const token = await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      const answers = await Promise.all(Array.from({ length: 4 }, () => api.post('/api/auth/verification/confirm', { token })));
      expect(answers.map((r) => r.status).sort()).to.deep.equal([200, 422, 422, 422]);
    });

    it('resends one email per request, at most ACCOUNT_EMAILS_PER_HOUR an hour (register included), and none once verified', async () => {
      const reg = await registerUser(api);
      await emailedLinkToken(stack.resend, reg.email, 'verify-email');
      const perHour = stack.config.ACCOUNT_EMAILS_PER_HOUR;
      for (let i = 1; i < perHour; i++) expect((await api.post('/api/auth/verification/resend', {}, reg.accessToken)).status).to.equal(202);
      const limited = await api.post('/api/auth/verification/resend', {}, reg.accessToken);
      expect(limited.status).to.equal(429);
      expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 3600);
      await waitFor('every resent email', () => mailsTo(reg.email, 'verify-email:').length === perHour);
      const newest = await emailedLinkToken(stack.resend, reg.email, 'verify-email', perHour - 1);
      expect((await api.post('/api/auth/verification/confirm', { token: newest })).status).to.equal(200);
      expect((await api.post('/api/auth/verification/resend', {}, reg.accessToken)).status).to.equal(409);
    });
  });

  describe('password reset', () => {
    it('answers the same 202 for an unknown address as for a known one, and emails only the known one', async () => {
      const reg = await registerUser(api);
      const unknown = uniqueEmail('nobody');
      const known = await api.post('/api/auth/password-reset', { email: reg.email });
      const stranger = await api.post('/api/auth/password-reset', { email: unknown });
      expect(known.status).to.equal(202);
      expect(stranger.status).to.equal(202);
      expect(stranger.body).to.deep.equal(known.body);
      expect([...stranger.headers.keys()].sort()).to.deep.equal([...known.headers.keys()].sort());
      await emailedLinkToken(stack.resend, reg.email, 'reset-password');
      // The known address's link was made after the answer; the unknown one gets nothing.
      expect(mailsTo(unknown)).to.have.length(0);
      expect(await sql('select 1 from email_outbox where "to" = ?', [unknown])).to.have.length(0);
    });

    it('answers both a known and an unknown address before looking the address up, so neither path waits on the database', async () => {
      // No timing: with the users table locked, any lookup blocks until the lock goes. Both
      // answers arrive while it is held, so neither path awaits the lookup (or the token insert
      // and workflow start behind it) before answering; the known address's link still comes
      // once the lock is released.
      const reg = await registerUser(api);
      const unknown = uniqueEmail('nobody');
      const locker = new pg.Client({ connectionString: stack.config.DATABASE_URL });
      await locker.connect();
      let released = false;
      try {
        await locker.query('begin');
        await locker.query('lock table users in access exclusive mode');
        const hang = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer while the users table is locked: the answer waits for the account lookup')), 20_000).unref());
        const [known, stranger] = await Promise.race([Promise.all([api.post('/api/auth/password-reset', { email: reg.email }), api.post('/api/auth/password-reset', { email: unknown })]), hang]);
        expect(known.status).to.equal(202);
        expect(stranger.status).to.equal(202);
        expect(stranger.body).to.deep.equal(known.body);
        // Both lookups were started after their answers and are waiting on the lock now.
        await waitFor('both deferred lookups waiting on the users lock', async () => {
          const [row] = (await locker.query(`select count(*)::int as n from pg_locks where relation = 'users'::regclass and not granted`)).rows as { n: number }[];
          return row.n >= 2;
        });
        await locker.query('rollback');
        released = true;
      } finally {
        if (!released) await locker.query('rollback').catch(() => undefined);
        await locker.end();
      }
      await emailedLinkToken(stack.resend, reg.email, 'reset-password');
      expect(mailsTo(unknown)).to.have.length(0);
    });

    it('on use sets the password, ends every session, access token and API key, voids other links, and emails a notice', async () => {
      const reg = await registerVerifiedUser(api, stack.resend);
      const key = await api.post('/api/auth/api-keys', { name: 'ci', currentPassword: reg.password, scopes: ['read'] }, reg.accessToken);
      expect(key.status).to.equal(201);
      const otherSession = await api.post('/api/auth/login', { email: reg.email, password: reg.password });

      expect((await api.post('/api/auth/password-reset', { email: reg.email })).status).to.equal(202);
      const first = await emailedLinkToken(stack.resend, reg.email, 'reset-password');
      expect((await api.post('/api/auth/password-reset', { email: reg.email })).status).to.equal(202);
      const second = await emailedLinkToken(stack.resend, reg.email, 'reset-password', 1);
      expect(second).to.not.equal(first);

      const weak = await api.post('/api/auth/password-reset/confirm', { token: second, newPassword: 'short' });
      expect(weak.status).to.equal(400);
      expect(weak.body.details[0].field).to.equal('newPassword');
      expect((await api.post('/api/auth/password-reset/confirm', { token: second, newPassword: 'N3wPassw0rdForReal' })).status).to.equal(204);

      expect((await api.post('/api/auth/refresh', { refreshToken: reg.refreshToken })).status).to.equal(401);
      expect((await api.post('/api/auth/refresh', { refreshToken: otherSession.body.refreshToken })).status).to.equal(401);
      expect((await api.get('/api/auth/me', reg.accessToken)).status).to.equal(401);
      expect((await api.call('GET', '/api/horses', { headers: { 'x-api-key': key.body.key } })).status).to.equal(401);
      expect((await api.post('/api/auth/login', { email: reg.email, password: reg.password })).status).to.equal(401);
      expect((await api.post('/api/auth/login', { email: reg.email, password: 'N3wPassw0rdForReal' })).status).to.equal(200);

      const reuse = await api.post('/api/auth/password-reset/confirm', { token: second, newPassword: 'An0therPassw0rd' });
      expect(reuse.status).to.equal(422);
      const older = await api.post('/api/auth/password-reset/confirm', { token: first, newPassword: 'An0therPassw0rd' });
      expect(older.status, 'the other outstanding link died with the reset').to.equal(422);
      expect((await api.post('/api/auth/login', { email: reg.email, password: 'N3wPassw0rdForReal' })).status).to.equal(200);

      await waitFor('the reset notice', () => mailsTo(reg.email, 'password-reset-notice:').length === 1);
      expect(mailsTo(reg.email, 'password-reset-notice:')[0].subject).to.equal('Your Horse Tempo password was reset');
    });

    it('refuses an expired reset link and another user\'s link changes only that user', async () => {
      const a = await registerUser(api);
      const b = await registerUser(api);
      await api.post('/api/auth/password-reset', { email: a.email });
      await api.post('/api/auth/password-reset', { email: b.email });
      const tokenA = await emailedLinkToken(stack.resend, a.email, 'reset-password');
      const tokenB = await emailedLinkToken(stack.resend, b.email, 'reset-password');

      await expireAccountTokens(stack.orm, a.user.id, 'reset-password');
      const expired = await api.post('/api/auth/password-reset/confirm', { token: tokenA, newPassword: 'N3wPassw0rdForReal' });
      expect(expired.status).to.equal(422);
      expect(expired.body.details[0].message).to.equal('has expired');
      expect((await api.post('/api/auth/login', { email: a.email, password: a.password })).status).to.equal(200);

      // A verification token is not a reset token.
      const verify = await emailedLinkToken(stack.resend, a.email, 'verify-email');
      expect((await api.post('/api/auth/password-reset/confirm', { token: verify, newPassword: 'N3wPassw0rdForReal' })).status).to.equal(422);

      expect((await api.post('/api/auth/password-reset/confirm', { token: tokenB, newPassword: 'N3wPassw0rdForReal' })).status).to.equal(204);
      expect((await api.post('/api/auth/login', { email: a.email, password: a.password })).status, 'A is untouched').to.equal(200);
      expect((await api.get('/api/auth/me', a.accessToken)).status).to.equal(200);
      expect((await api.post('/api/auth/login', { email: b.email, password: 'N3wPassw0rdForReal' })).status).to.equal(200);
    });
  });

  describe('invitations', () => {
    it('answers an invite the same whether or not the address has an account, and names nobody', async () => {
      const owner = await registerVerifiedUser(api, stack.resend);
      const existing = await registerUser(api, { firstName: 'Secret', lastName: 'Name' });
      const orgId = owner.user.defaultOrganizationId;
      const toAccount = await api.post(`/api/organizations/${orgId}/invitations`, { email: existing.email }, owner.accessToken);
      const toNobody = await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('nobody') }, owner.accessToken);
      expect(toAccount.status).to.equal(201);
      expect(toNobody.status).to.equal(201);
      expect(Object.keys(toAccount.body).sort()).to.deep.equal(Object.keys(toNobody.body).sort());
      expect(toAccount.body).to.include({ status: 'pending', role: 'member', email: existing.email });
      expect(JSON.stringify(toAccount.body)).to.not.contain('Secret');
      expect(JSON.stringify(toAccount.body)).to.not.contain(existing.user.id);
      // No membership before consent.
      const members = await api.get(`/api/organizations/${orgId}/members`, owner.accessToken);
      expect(members.body.map((m: { email: string }) => m.email)).to.deep.equal([owner.email]);
      await waitFor('the invitation email', () => mailsTo(existing.email, 'invitation:').length === 1);
      expect(mailsTo(existing.email, 'invitation:')[0].text).to.contain(`/invitations/${toAccount.body.id}`);
    });

    it('lets only the verified owner of the invited address accept, once; the wrong account sees nothing', async () => {
      const owner = await registerVerifiedUser(api, stack.resend);
      const orgId = owner.user.defaultOrganizationId;
      const horse = (await api.post('/api/horses', { name: 'Invited horse', gender: 'mare' }, owner.accessToken)).body;
      const inviteeEmail = uniqueEmail('invitee');
      const inv = (await api.post(`/api/organizations/${orgId}/invitations`, { email: inviteeEmail, role: 'admin' }, owner.accessToken)).body;

      const wrong = await registerVerifiedUser(api, stack.resend);
      expect((await api.post(`/api/invitations/${inv.id}/accept`, {}, wrong.accessToken)).status).to.equal(404);
      expect((await api.post(`/api/invitations/${inv.id}/decline`, {}, wrong.accessToken)).status).to.equal(404);
      expect((await api.get('/api/invitations', wrong.accessToken)).body).to.deep.equal([]);

      const invitee = await registerUser(api, { email: inviteeEmail });
      const unverified = await api.post(`/api/invitations/${inv.id}/accept`, {}, invitee.accessToken);
      expect(unverified.status, 'an unverified account with the address is not proof of owning it').to.equal(403);
      expect((await api.get('/api/invitations', invitee.accessToken)).status).to.equal(403);

      const token = await emailedLinkToken(stack.resend, inviteeEmail, 'verify-email');
      expect((await api.post('/api/auth/verification/confirm', { token })).status).to.equal(200);
      const mine = await api.get('/api/invitations', invitee.accessToken);
      expect(mine.body.map((i: { id: string }) => i.id)).to.deep.equal([inv.id]);
      const accepted = await api.post(`/api/invitations/${inv.id}/accept`, {}, invitee.accessToken);
      expect(accepted.status).to.equal(200);
      expect(accepted.body).to.include({ id: orgId, role: 'admin' });
      expect((await api.get(`/api/horses/${horse.id}`, invitee.accessToken)).status).to.equal(200);

      expect((await api.post(`/api/invitations/${inv.id}/accept`, {}, invitee.accessToken)).status, 'single use').to.equal(409);
      expect((await api.post(`/api/invitations/${inv.id}/decline`, {}, invitee.accessToken)).status).to.equal(409);
      const listed = await api.get(`/api/organizations/${orgId}/invitations`, owner.accessToken);
      expect(listed.body.find((i: { id: string }) => i.id === inv.id).status).to.equal('accepted');
    });

    it('refuses revoked and expired invitations, declines without joining, and keeps the role locks', async () => {
      const owner = await registerVerifiedUser(api, stack.resend);
      const orgId = owner.user.defaultOrganizationId;
      const invitee = await registerVerifiedUser(api, stack.resend);
      const invite = (role = 'member') => api.post(`/api/organizations/${orgId}/invitations`, { email: invitee.email, role }, owner.accessToken);

      const revoked = (await invite()).body;
      expect((await invite()).status, 'one pending invitation per address').to.equal(409);
      expect((await api.delete(`/api/organizations/${orgId}/invitations/${revoked.id}`, owner.accessToken)).status).to.equal(204);
      expect((await api.delete(`/api/organizations/${orgId}/invitations/${revoked.id}`, owner.accessToken)).status).to.equal(409);
      expect((await api.post(`/api/invitations/${revoked.id}/accept`, {}, invitee.accessToken)).status).to.equal(409);

      const expiring = (await invite()).body;
      await expireInvitation(stack.orm, expiring.id);
      const expired = await api.post(`/api/invitations/${expiring.id}/accept`, {}, invitee.accessToken);
      expect(expired.status).to.equal(409);
      expect(expired.body.message).to.contain('expired');

      const declined = (await invite()).body;
      expect((await api.post(`/api/invitations/${declined.id}/decline`, {}, invitee.accessToken)).status).to.equal(204);
      expect((await api.get('/api/organizations', invitee.accessToken)).body.map((o: { id: string }) => o.id)).to.not.include(orgId);

      // An admin cannot invite owners, a member cannot invite at all, and an admin's
      // invitation dies with the admin's role.
      const admin = await registerVerifiedUser(api, stack.resend);
      const adminInv = (await api.post(`/api/organizations/${orgId}/invitations`, { email: admin.email, role: 'admin' }, owner.accessToken)).body;
      expect((await api.post(`/api/invitations/${adminInv.id}/accept`, {}, admin.accessToken)).status).to.equal(200);
      const adminToken = (await api.post('/api/auth/login', { email: admin.email, password: admin.password })).body.accessToken;
      expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('x'), role: 'owner' }, adminToken)).status).to.equal(403);
      const fromAdmin = (await api.post(`/api/organizations/${orgId}/invitations`, { email: invitee.email, role: 'member' }, adminToken)).body;
      expect((await api.patch(`/api/organizations/${orgId}/members/${admin.user.id}`, { role: 'member' }, owner.accessToken)).status).to.equal(200);
      expect((await api.post(`/api/organizations/${orgId}/invitations`, { email: uniqueEmail('y') }, adminToken)).status).to.equal(403);
      const stale = await api.post(`/api/invitations/${fromAdmin.id}/accept`, {}, invitee.accessToken);
      expect(stale.status).to.equal(409);
      expect(stale.body.message).to.contain('can no longer grant');
    });

    it('documents every new endpoint with its statuses and required bodies in the OpenAPI document', async () => {
      const doc = (await api.get('/api/openapi.json')).body;
      const statuses = (path: string, method: string) => Object.keys(doc.paths[path]?.[method]?.responses ?? {}).sort();
      expect(statuses('/api/auth/verification/confirm', 'post')).to.include.members(['200', '400', '429']);
      expect(statuses('/api/auth/verification/resend', 'post')).to.include.members(['202', '400', '401', '409', '429', '503']);
      expect(statuses('/api/auth/password-reset', 'post')).to.include.members(['202', '400', '429']);
      expect(statuses('/api/auth/password-reset/confirm', 'post')).to.include.members(['204', '400', '429']);
      expect(statuses('/api/organizations/{id}/invitations', 'post')).to.include.members(['201', '400', '401', '403', '404', '409', '429', '503']);
      expect(statuses('/api/organizations/{id}/invitations', 'get')).to.include.members(['200', '400', '401', '403', '404']);
      expect(statuses('/api/organizations/{id}/invitations/{invitationId}', 'delete')).to.include.members(['204', '400', '401', '403', '404', '409']);
      expect(statuses('/api/invitations', 'get')).to.include.members(['200', '400', '401', '403']);
      expect(statuses('/api/invitations/{id}/accept', 'post')).to.include.members(['200', '400', '401', '403', '404', '409']);
      expect(statuses('/api/invitations/{id}/decline', 'post')).to.include.members(['204', '400', '401', '403', '404', '409']);
      expect(doc.paths['/api/organizations/{id}/members'].post, 'the direct add is gone').to.equal(undefined);
      const body = (path: string) => doc.paths[path].post.requestBody.content['application/json'].schema;
      const resolved = (schema: { $ref?: string }) => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : schema);
      expect(resolved(body('/api/auth/password-reset/confirm')).required).to.have.members(['token', 'newPassword']);
      expect(resolved(body('/api/auth/verification/confirm')).required).to.deep.equal(['token']);
      expect(resolved(body('/api/auth/password-reset')).required).to.deep.equal(['email']);
      expect(resolved(body('/api/organizations/{id}/invitations')).required).to.deep.equal(['email']);
    });

    it('has no direct "add member by email" route any more', async () => {
      const owner = await registerVerifiedUser(api, stack.resend);
      const other = await registerVerifiedUser(api, stack.resend);
      const res = await api.post(`/api/organizations/${owner.user.defaultOrganizationId}/members`, { email: other.email }, owner.accessToken);
      expect(res.status).to.equal(405);
      expect((await api.get('/api/organizations', other.accessToken)).body).to.have.length(1);
    });
  });
});
