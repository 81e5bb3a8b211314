import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser } from '../support/http';
import { TaskQueue } from '../../workflows/queues';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';

type User = Awaited<ReturnType<typeof registerUser>>;

/**
 * Who hears about a listing: recipients are resolved when the notice is sent, from the
 * organization's current membership — the member who created the listing while they still
 * belong to it, else the organization's owners. Driven through the real marketplace reconcile
 * workflow and activities (real Postgres, Temporal, the Resend stand-in).
 */
describe('listing notices follow current organization membership', () => {
  const { stack, api } = useTestStack();

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute<T[]>(text, params);
  const ownedOrg = async (u: User) => (await sql<{ organization_id: string }>(`select organization_id from memberships where user_id = ? and role = 'owner'`, [u.user.id]))[0].organization_id;

  /** A listing created by `creator` in `orgId`, active and past its expiry (so the sweep expires it). */
  async function overdueListing(creator: User, orgId: string, title: string) {
    const res = await api.post('/api/marketplace/my/listings', { type: 'sale', title, description: 'A kind mare.', priceCents: 900_000, currency: 'EUR', country: 'FR' }, creator.accessToken);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    await sql(
      `update listings set organization_id = ?, owner_id = ?, status = 'active', publication = 1, published_at = now() - interval '31 days',
              expires_at = now() - interval '1 hour', updated_at = now() - interval '1 hour' where id = ?`,
      [orgId, creator.user.id, res.body.id],
    );
    return res.body.id as string;
  }
  const emailsAbout = (title: string) => stack.resend.emails.filter((m) => m.subject.includes(title));
  const noticesOf = async (u: User, listingId: string) => {
    const res = await api.get('/api/notifications', u.accessToken);
    return res.body.items.filter((n: { kind: string; data: { listingId?: string } }) => n.kind === 'listing.expired' && n.data.listingId === listingId);
  };

  it('tells the creator while a member; once they left, tells the owners and never the former member', async function () {
    this.timeout(60_000);
    const owner = await registerUser(api, { firstName: 'Owner' });
    const stays = await registerUser(api, { firstName: 'Stays' });
    const leaves = await registerUser(api, { firstName: 'Leaves' });
    const orgId = await ownedOrg(owner);
    for (const u of [stays, leaves]) {
      await sql(`insert into memberships (id, created_at, updated_at, organization_id, user_id, role) values (?, now(), now(), ?, ?, 'member')`, [randomUUID(), orgId, u.user.id]);
    }
    const tag = randomUUID().slice(0, 8);
    const kept = await overdueListing(stays, orgId, `Kept pony ${tag}`);
    const orphaned = await overdueListing(leaves, orgId, `Left pony ${tag}`);
    // Removed from the organization after publishing, before the notice is due.
    await sql(`delete from memberships where organization_id = ? and user_id = ?`, [orgId, leaves.user.id]);

    const client = await stack.temporal.client();
    // The workflow returns once every notice activity has finished: what was not sent by then never is.
    const result = await client.workflow.execute(marketplaceReconcile, { taskQueue: TaskQueue.marketplace, workflowId: `listing-notices-${tag}`, args: [{ graceMinutes: 0 }] });
    expect(result.expired).to.include.members([kept, orphaned]);

    // Still a member: the creator hears, and only they.
    expect(emailsAbout(`Kept pony ${tag}`).flatMap((m) => m.to)).to.deep.equal([stays.email]);
    expect(await noticesOf(stays, kept)).to.have.length(1);
    expect(await noticesOf(owner, kept)).to.have.length(0);

    // Removed: the owners hear, the former member does not.
    const left = emailsAbout(`Left pony ${tag}`);
    expect(left.flatMap((m) => m.to)).to.deep.equal([owner.email]);
    expect(left[0].text).to.contain('Hello Owner');
    expect(await noticesOf(leaves, orphaned)).to.have.length(0);
    expect(await noticesOf(owner, orphaned)).to.have.length(1);
  });
});
