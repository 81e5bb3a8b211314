import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { testDatabase } from '../support/infra';
import { createOrm, type MikroORM } from '../../entities/orm';
import { RefreshToken, User } from '../../entities';
import { createAuthService } from '../../api/accounts/service';
import { sha256 } from '../../api/accounts/tokens';

/**
 * A stolen refresh token raced against the user's own refresh: whoever wins, the loser's
 * attempt is a reuse, and after a reuse no token of that login may still work — including
 * the one the winner was just handed.
 */
describe('refresh-token rotation under concurrent use (real Postgres)', () => {
  let orm: MikroORM;
  const auth = createAuthService({ JWT_SECRET: 'x'.repeat(40), JWT_ACCESS_TTL_SECONDS: 900, REFRESH_TOKEN_TTL_DAYS: 30, PASSWORD_HASH_MEMORY_KIB: 8192, EMAIL_VERIFICATION_TTL_HOURS: 48 });
  before(async function () {
    this.timeout(120_000);
    orm = await createOrm({ databaseUrl: (await testDatabase()).url });
  });
  after(async () => {
    await orm?.close();
  });

  async function newLogin() {
    const email = `race.${randomUUID()}@example.test`;
    await auth.register(orm.em.fork(), { email, password: 'Str0ngPassw0rd', firstName: 'R', lastName: 'Ace' });
    const { tokens } = await auth.login(orm.em.fork(), email, 'Str0ngPassw0rd');
    return tokens.refreshToken;
  }

  it('given one refresh token used concurrently, at most one use succeeds and afterwards no token of the family is live', async function () {
    this.timeout(120_000);
    for (let round = 0; round < 15; round++) {
      const token = await newLogin();
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => auth.refresh(orm.em.fork(), token)));
      const winners = results.filter((r) => r.status === 'fulfilled');
      expect(winners.length, `round ${round}`).to.be.at.most(1);
      const familyId = (await orm.em.fork().findOneOrFail(RefreshToken, { tokenHash: sha256(token) })).familyId;
      const live = await orm.em.fork().count(RefreshToken, { familyId, revokedAt: null, usedAt: null });
      expect(live, `round ${round}: a token of a revoked family is still live`).to.equal(0);
      for (const w of winners) {
        const again = await auth.refresh(orm.em.fork(), w.value.tokens.refreshToken).catch((e: Error) => e);
        expect(again, `round ${round}: the race winner's new token still works`).to.be.instanceOf(Error);
      }
    }
  });

  it('given a token refreshed once, when the old token is replayed, the new token is revoked too', async () => {
    const token = await newLogin();
    const first = await auth.refresh(orm.em.fork(), token);
    const replay = await auth.refresh(orm.em.fork(), token).catch((e: Error) => e);
    expect(replay).to.be.instanceOf(Error);
    const next = await auth.refresh(orm.em.fork(), first.tokens.refreshToken).catch((e: Error) => e);
    expect(next).to.be.instanceOf(Error);
    expect((next as Error).message).to.match(/already used|revoked/);
    expect(await orm.em.fork().count(User, { email: { $like: 'race.%' } })).to.be.greaterThan(0);
  });
});
