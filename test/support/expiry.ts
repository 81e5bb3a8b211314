import type { MikroORM } from '../../entities/orm';
import { AccountToken, Invitation, type AccountTokenPurpose } from '../../entities';

/**
 * Makes stored account tokens and invitations expired, for the tests of what an expired one
 * answers. The rows' expiry moves, not a clock: a token is consumed by one conditional UPDATE
 * that compares with Postgres' `now()` (so two concurrent uses cannot both pass), invitations
 * compare with the API's `Date.now()`, and neither reads an injectable clock. Giving them one
 * means a `clock` in AppDeps threaded to both and passed as a parameter to the SQL, and a way
 * for the tests to hand it to the stack they start; until then every test that needs an
 * expired row goes through here, by entity and property names (a renamed column fails to
 * compile instead of silently updating nothing), and a call that expires nothing throws.
 */
const past = () => new Date(Date.now() - 60_000);

/** Expires the user's unused tokens (of one purpose when given). */
export async function expireAccountTokens(orm: MikroORM, userId: string, purpose?: AccountTokenPurpose): Promise<number> {
  const n = await orm.em.fork().nativeUpdate(AccountToken, { user: userId, usedAt: null, ...(purpose ? { purpose } : {}) }, { expiresAt: past() });
  if (n === 0) throw new Error(`expireAccountTokens: user ${userId} has no unused ${purpose ?? ''} token to expire`);
  return n;
}

/** Expires one invitation. */
export async function expireInvitation(orm: MikroORM, invitationId: string): Promise<void> {
  const n = await orm.em.fork().nativeUpdate(Invitation, { id: invitationId }, { expiresAt: past() });
  if (n === 0) throw new Error(`expireInvitation: no invitation ${invitationId}`);
}
