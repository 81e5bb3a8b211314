import { expect } from 'chai';
import { CONTROL_CHARACTERS_MESSAGE } from '../../api/http/input-policy';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerUser } from '../support/http';
import { listingWorkflowId } from '../../workflows/ids';
import { TaskQueue } from '../../workflows/queues';
import { listingLifecycle } from '../../workflows/marketplace/listingLifecycle';
import { statusQuery } from '../../workflows/marketplace/messages';
import { DAY_MS } from '../../domain/time';
import { buildSearchSql, type SearchRow } from '../../api/marketplace/search';
import { SearchListingsQuery } from '../../api/marketplace/schemas';

type User = Awaited<ReturnType<typeof registerUser>>;

describe('marketplace through the HTTP API', () => {
  const { stack, api } = useTestStack();

  const sql = (text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute(text, params);
  const setPlan = (user: User, plan: 'free' | 'premium' | 'pro') => sql('update users set plan = ? where id = ?', [plan, user.user.id]);
  const draft = (overrides: Record<string, unknown> = {}) => ({
    type: 'sale',
    title: 'Bay mare for sale',
    description: 'Kind and sound mare, easy to handle.',
    priceCents: 1_500_000,
    currency: 'EUR',
    country: 'FR',
    ...overrides,
  });
  async function createListing(user: User, overrides: Record<string, unknown> = {}) {
    const res = await api.post('/api/marketplace/my/listings', draft(overrides), user.accessToken);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  }
  async function publish(user: User, id: string) {
    const res = await api.post(`/api/marketplace/my/listings/${id}/publish`, undefined, user.accessToken);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  }
  const listingRow = async (id: string) => (await sql('select status, expires_at, published_at, publication, price_cents, title from listings where id = ?', [id]))[0];

  describe('owner lifecycle', () => {
    it('creates a draft, publishes it for the plan duration with a running workflow, and a repeated publish changes nothing', async () => {
      const owner = await registerUser(api);
      const created = await createListing(owner);
      expect(created).to.include({ status: 'draft', ownerId: owner.user.id, organizationId: owner.user.organizations[0].organizationId, publication: 0 });
      expect(created.publishedAt).to.equal(null);

      const before = Date.now();
      const published = await publish(owner, created.id);
      expect(published).to.include({ status: 'active', publication: 1 });
      const expiresIn = new Date(published.expiresAt).getTime() - new Date(published.publishedAt).getTime();
      expect(expiresIn).to.equal(30 * DAY_MS); // free plan
      expect(new Date(published.publishedAt).getTime()).to.be.at.least(before - 1000);

      const lifecycle = await eventually(async () => {
        const res = await api.get(`/api/marketplace/my/listings/${created.id}/lifecycle`, owner.accessToken);
        return res.status === 200 ? res.body : null;
      });
      expect(lifecycle).to.include({ listingId: created.id, status: 'active', publication: 1, expiresAt: published.expiresAt, reminderSent: false });
      expect(lifecycle.reminderAt).to.equal(new Date(new Date(published.expiresAt).getTime() - 3 * DAY_MS).toISOString());

      const client = await stack.temporal.client();
      const description = await client.workflow.getHandle(listingWorkflowId(created.id)).describe();
      expect(description.status.name).to.equal('RUNNING');
      expect(description.taskQueue).to.equal(TaskQueue.marketplace);

      const again = await publish(owner, created.id);
      expect(again.expiresAt).to.equal(published.expiresAt);
      expect(again.publication).to.equal(1);
      const runs = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${listingWorkflowId(created.id)}'` })) runs.push(wf);
      expect(runs).to.have.length(1);
    });

    it('premium and pro plans publish for 60 and 120 days', async () => {
      for (const [plan, days] of [
        ['premium', 60],
        ['pro', 120],
      ] as const) {
        const owner = await registerUser(api);
        await setPlan(owner, plan);
        const l = await publish(owner, (await createListing(owner)).id);
        expect(new Date(l.expiresAt).getTime() - new Date(l.publishedAt).getTime(), plan).to.equal(days * DAY_MS);
      }
    });

    it('renews an active listing: the expiry moves and the workflow timers follow', async () => {
      const owner = await registerUser(api);
      const l = await createListing(owner);
      await publish(owner, l.id);
      // Pretend it was published 20 days ago.
      await sql(`update listings set published_at = now() - interval '20 days', expires_at = now() + interval '10 days' where id = ?`, [l.id]);
      const renewed = await api.post(`/api/marketplace/my/listings/${l.id}/renew`, undefined, owner.accessToken);
      expect(renewed.status).to.equal(200);
      expect(renewed.body).to.include({ status: 'active', publication: 1 });
      expect(new Date(renewed.body.expiresAt).getTime()).to.be.closeTo(Date.now() + 30 * DAY_MS, 60_000);
      const status = await eventually(async () => {
        const res = await api.get(`/api/marketplace/my/listings/${l.id}/lifecycle`, owner.accessToken);
        return res.body.expiresAt === renewed.body.expiresAt ? res.body : null;
      });
      expect(status).to.include({ status: 'active', renewals: 1 });
    });

    it('marks a listing sold: the workflow ends, it leaves search, and renewing it is a clear 409 that changes nothing', async () => {
      const owner = await registerUser(api);
      const l = await createListing(owner, { title: 'Sold soon gelding' });
      await publish(owner, l.id);
      expect((await api.get(`/api/marketplace/listings/${l.id}`)).status).to.equal(200);

      const sold = await api.post(`/api/marketplace/my/listings/${l.id}/sold`, undefined, owner.accessToken);
      expect(sold.status).to.equal(200);
      expect(sold.body.status).to.equal('sold');
      const client = await stack.temporal.client();
      expect(await client.workflow.getHandle(listingWorkflowId(l.id)).result()).to.deep.include({ status: 'sold', publication: 1 });

      const before = await listingRow(l.id);
      const renew = await api.post(`/api/marketplace/my/listings/${l.id}/renew`, undefined, owner.accessToken);
      expect(renew.status).to.equal(409);
      expect(renew.body.message).to.match(/Cannot renew a listing that is sold/);
      expect(await listingRow(l.id)).to.deep.equal(before);
      expect((await api.post(`/api/marketplace/my/listings/${l.id}/withdraw`, undefined, owner.accessToken)).status).to.equal(409);
      expect((await api.patch(`/api/marketplace/my/listings/${l.id}`, { title: 'Changed after sale' }, owner.accessToken)).status).to.equal(409);
      expect((await api.get(`/api/marketplace/listings/${l.id}`)).status).to.equal(404);
    });

    it('withdraws an active listing (workflow ends withdrawn) and deletes only drafts', async () => {
      const owner = await registerUser(api);
      const l = await createListing(owner);
      await publish(owner, l.id);
      expect((await api.delete(`/api/marketplace/my/listings/${l.id}`, owner.accessToken)).status).to.equal(409);
      const withdrawn = await api.post(`/api/marketplace/my/listings/${l.id}/withdraw`, undefined, owner.accessToken);
      expect(withdrawn.body.status).to.equal('withdrawn');
      const client = await stack.temporal.client();
      expect(await client.workflow.getHandle(listingWorkflowId(l.id)).result()).to.deep.include({ status: 'withdrawn' });

      const d = await createListing(owner);
      expect((await api.delete(`/api/marketplace/my/listings/${d.id}`, owner.accessToken)).status).to.equal(204);
      expect((await api.get(`/api/marketplace/my/listings/${d.id}`, owner.accessToken)).status).to.equal(404);
    });

    it('expires on time with the real activities: leaves search, owner emailed; renewing then republishes with a new run', async function () {
      this.timeout(60_000);
      const owner = await registerUser(api, { firstName: 'Margaux' });
      const l = await createListing(owner, { title: 'Quick expiry pony' });
      // Published a moment ago with a 3-second life (the plan durations are days).
      await sql(`update listings set status = 'active', publication = 1, published_at = now(), expires_at = now() + interval '3 seconds' where id = ?`, [l.id]);
      const [{ expires_at }] = await sql('select expires_at from listings where id = ?', [l.id]);
      const client = await stack.temporal.client();
      const first = await client.workflow.start(listingLifecycle, {
        workflowId: listingWorkflowId(l.id),
        taskQueue: TaskQueue.marketplace,
        args: [{ listingId: l.id, publication: 1, expiresAt: new Date(expires_at).toISOString(), reminderDays: 0 }],
      });
      expect((await api.get(`/api/marketplace/listings/${l.id}`)).status).to.equal(200);
      expect(await first.result()).to.deep.include({ status: 'expired', publication: 1 });
      expect((await listingRow(l.id)).status).to.equal('expired');
      expect((await api.get(`/api/marketplace/listings/${l.id}`)).status).to.equal(404);
      const mail = await eventually(async () => stack.resend.emails.find((m) => m.to.includes(owner.email) && m.subject.includes('expired')));
      expect(mail.subject).to.equal('Your listing "Quick expiry pony" has expired');
      expect(mail.text).to.contain('Hello Margaux');
      const notes = await api.get('/api/notifications', owner.accessToken);
      expect(notes.body.items.map((n: { kind: string }) => n.kind)).to.include('listing.expired');

      const renewed = await api.post(`/api/marketplace/my/listings/${l.id}/renew`, undefined, owner.accessToken);
      expect(renewed.status).to.equal(200);
      expect(renewed.body).to.include({ status: 'active', publication: 2 });
      const second = client.workflow.getHandle(listingWorkflowId(l.id));
      const description = await second.describe();
      expect(description.runId).to.not.equal(first.firstExecutionRunId);
      expect(description.status.name).to.equal('RUNNING');
      expect(await second.query(statusQuery)).to.include({ status: 'active', publication: 2, expiresAt: renewed.body.expiresAt });
      expect((await api.get(`/api/marketplace/listings/${l.id}`)).status).to.equal(200);
    });
  });

  describe('plan limits and other people', () => {
    it('refuses a publish past the plan limit with 402 and the reason, leaving the draft a draft', async () => {
      const owner = await registerUser(api);
      const a = await createListing(owner);
      const b = await createListing(owner);
      await publish(owner, a.id);
      const res = await api.post(`/api/marketplace/my/listings/${b.id}/publish`, undefined, owner.accessToken);
      expect(res.status).to.equal(402);
      expect(res.body.message).to.match(/free plan allows 1 active listing/);
      expect(res.body.details).to.deep.equal({ plan: 'free', limit: 1, active: 1 });
      expect((await listingRow(b.id)).status).to.equal('draft');

      // Free a slot: the draft can be published.
      await api.post(`/api/marketplace/my/listings/${a.id}/withdraw`, undefined, owner.accessToken);
      await publish(owner, b.id);
    });

    it('allows only one of two concurrent publishes on a one-listing plan', async () => {
      const owner = await registerUser(api);
      const [a, b] = [await createListing(owner), await createListing(owner)];
      const results = await Promise.all([a, b].map((l) => api.post(`/api/marketplace/my/listings/${l.id}/publish`, undefined, owner.accessToken)));
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 402]);
      const [{ n }] = await sql(`select count(*)::int as n from listings where owner_id = ? and status = 'active'`, [owner.user.id]);
      expect(n).to.equal(1);
    });

    it("answers 404 to another user who tries to read, edit, publish, renew, sell, withdraw or delete my listing, and changes nothing", async () => {
      const owner = await registerUser(api);
      const other = await registerUser(api);
      const l = await createListing(owner);
      const active = await createListing(owner, { title: 'Already live' });
      await publish(owner, active.id);
      const before = [await listingRow(l.id), await listingRow(active.id)];
      const attempts = [
        api.get(`/api/marketplace/my/listings/${l.id}`, other.accessToken),
        api.patch(`/api/marketplace/my/listings/${l.id}`, { title: 'Hijacked' }, other.accessToken),
        api.post(`/api/marketplace/my/listings/${l.id}/publish`, undefined, other.accessToken),
        api.post(`/api/marketplace/my/listings/${active.id}/renew`, undefined, other.accessToken),
        api.post(`/api/marketplace/my/listings/${active.id}/sold`, undefined, other.accessToken),
        api.post(`/api/marketplace/my/listings/${active.id}/withdraw`, undefined, other.accessToken),
        api.get(`/api/marketplace/my/listings/${active.id}/lifecycle`, other.accessToken),
        api.delete(`/api/marketplace/my/listings/${l.id}`, other.accessToken),
      ];
      for (const res of await Promise.all(attempts)) expect(res.status, JSON.stringify(res.body)).to.equal(404);
      expect([await listingRow(l.id), await listingRow(active.id)]).to.deep.equal(before);
      const mine = await api.get('/api/marketplace/my/listings', other.accessToken);
      expect(mine.body.total).to.equal(0);
      expect((await api.post('/api/marketplace/my/listings', draft(), undefined)).status).to.equal(401);
    });

    it("refuses to link another organization's horse", async () => {
      const owner = await registerUser(api);
      const other = await registerUser(api);
      const horse = await api.post('/api/horses', { name: 'Not yours', gender: 'mare' }, other.accessToken);
      const res = await api.post('/api/marketplace/my/listings', draft({ horseId: horse.body.id }), owner.accessToken);
      expect(res.status).to.equal(422);
      expect(res.body.details[0].field).to.equal('horseId');
    });
  });

  describe('bad input', () => {
    it('answers 400 naming the field for a negative price, an unknown currency, type or country, and unknown fields; nothing is created', async () => {
      const owner = await registerUser(api);
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ priceCents: -100 }, 'priceCents', /must not be negative/],
        [{ priceCents: 10.5 }, 'priceCents', /whole minor units/],
        [{ currency: 'XYZ' }, 'currency', /must be one of EUR/],
        [{ type: 'lease' }, 'type', /must be one of sale, rental, stud, breeding, service/],
        [{ country: 'QQ' }, 'country', /ISO 3166-1 alpha-2/],
        [{ isFeatured: true }, '', /isFeatured|Unrecognized/i],
      ];
      for (const [override, field, message] of cases) {
        const res = await api.post('/api/marketplace/my/listings', draft(override), owner.accessToken);
        expect(res.status, JSON.stringify(override)).to.equal(400);
        expect(res.body.message, JSON.stringify(override)).to.match(message);
        if (field) expect(res.body.details[0].field).to.equal(field);
      }
      // A combination of fields the document cannot state: 422, and nothing created either.
      const alone = await api.post('/api/marketplace/my/listings', draft({ latitude: 48.8 }), owner.accessToken);
      expect(alone.status).to.equal(422);
      expect(alone.body.details[0]).to.include({ field: 'longitude', message: 'latitude and longitude go together' });
      expect((await api.get('/api/marketplace/my/listings', owner.accessToken)).body.total).to.equal(0);

      const l = await createListing(owner);
      const patch = await api.patch(`/api/marketplace/my/listings/${l.id}`, { priceCents: -1 }, owner.accessToken);
      expect(patch.status).to.equal(400);
      expect((await listingRow(l.id)).price_cents).to.equal(1_500_000);
    });

    it('answers 400 to bad search parameters and cursors, 400 for a non-UUID id', async () => {
      const forgedCursor = await api.get('/api/marketplace/listings?cursor=eyJmb28iOjF9');
      expect(forgedCursor.status, 'well-formed but never issued: 422').to.equal(422);
      expect(forgedCursor.body.details[0]).to.include({ location: 'query', field: 'cursor' });
      for (const q of ['minPrice=500&maxPrice=100&currency=EUR', 'sort=relevance']) {
        expect((await api.get(`/api/marketplace/listings?${q}`)).status, `${q}: a combination the document cannot state`).to.equal(422);
      }
      for (const q of ['minPrice=-1', 'type=lease', 'cursor=%25%25%25', 'limit=500', 'country=QQ']) {
        const res = await api.get(`/api/marketplace/listings?${q}`);
        expect(res.status, q).to.equal(400);
        expect(res.body.details[0].location, q).to.equal('query');
      }
      expect((await api.get('/api/marketplace/listings/not-a-uuid')).status).to.equal(400);
      const spec = await api.get('/api/openapi.json');
      expect(spec.body.paths['/api/marketplace/listings'].get.parameters.map((p: { name: string }) => p.name)).to.include.members(['q', 'cursor', 'minAge']);
      expect(spec.body.paths['/api/marketplace/my/listings/{id}/publish'].post.responses).to.have.property('402');
      expect((await api.get('/api/marketplace/listings/00000000-0000-4000-8000-000000000000')).status).to.equal(404);
    });
  });

  describe('search', () => {
    // A word no other test uses scopes every query to the listings seeded here.
    const nonce = `zq${Date.now().toString(36).replace(/[0-9]/g, 'x')}`;
    let ids: Record<string, string>;
    const search = async (params: Record<string, string | number>) => {
      const res = await api.get(`/api/marketplace/listings?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body as { items: { id: string; rank: number | null; priceCents: number }[]; nextCursor: string | null };
    };
    const titlesOf = (r: { items: { id: string }[] }) => r.items.map((i) => Object.entries(ids).find(([, id]) => id === i.id)?.[0] ?? i.id);

    before(async function () {
      this.timeout(60_000);
      const seller = await registerUser(api);
      await setPlan(seller, 'pro');
      const year = new Date().getUTCFullYear();
      const horse = async (name: string, breed: string, birthYear: number) =>
        (await api.post('/api/horses', { name, breed, birthDate: `${birthYear}-01-15`, gender: 'mare' }, seller.accessToken)).body.id;
      const seeds: Record<string, Record<string, unknown>> = {
        dressageTitle: { title: 'Dressage schoolmaster', description: `Talented horse ${nonce}, Grand Prix movements.`, priceCents: 4_500_000, country: 'DE', horseId: await horse('Dancer', 'Hanoverian', year - 12) },
        dressageBody: { title: 'Quiet gelding', description: `Great all-rounder ${nonce}, some dressage training, loves hacking.`, priceCents: 900_000, country: 'FR', horseId: await horse('Hacker', 'Selle Français', year - 6) },
        french: { title: 'Jument de sport', description: `Très belle jument ${nonce}, idéale pour le concours de saut d'obstacles.`, priceCents: 1_200_000, country: 'FR', horseId: await horse('Étoile', 'Selle Français', year - 4) },
        englishMares: { title: 'Two mares for lease', description: `Brood mares ${nonce} available for breeding.`, type: 'rental', priceCents: 50_000, currency: 'GBP', country: 'GB' },
        stud: { title: 'Stallion at stud', description: `Proven sire ${nonce}, fresh and frozen semen.`, type: 'stud', priceCents: 120_000, country: 'NL', horseId: await horse('Sire', 'KWPN', year - 15) },
        cheap: { title: 'Pony for kids', description: `Safe pony ${nonce}.`, priceCents: 250_000, country: 'BE' },
      };
      ids = {};
      for (const [key, fields] of Object.entries(seeds)) {
        const l = await createListing(seller, fields);
        await publish(seller, l.id);
        ids[key] = l.id;
      }
      // Not searchable: a draft, a sold one, and an active one past its expiry (the workflow has not caught up).
      ids.draft = (await createListing(seller, { title: 'Dressage draft', description: `Unpublished ${nonce}` })).id;
      const sold = await createListing(seller, { title: 'Dressage sold', description: `Gone ${nonce}` });
      await publish(seller, sold.id);
      await api.post(`/api/marketplace/my/listings/${sold.id}/sold`, undefined, seller.accessToken);
      ids.sold = sold.id;
      const late = await createListing(seller, { title: 'Dressage overdue', description: `Late ${nonce}` });
      await publish(seller, late.id);
      await sql(`update listings set expires_at = now() - interval '1 minute' where id = ?`, [late.id]);
      ids.late = late.id;
    });

    it('ranks a title match above a description match and finds only active, unexpired listings', async () => {
      const res = await search({ q: `dressage ${nonce}` });
      expect(titlesOf(res)).to.deep.equal(['dressageTitle', 'dressageBody']);
      expect(res.items[0].rank).to.be.greaterThan(res.items[1].rank!);
    });

    it('understands French and English word forms ("juments", "mares", "stallions")', async () => {
      expect(titlesOf(await search({ q: `juments ${nonce}` }))).to.deep.equal(['french']);
      expect(titlesOf(await search({ q: `mare ${nonce}` }))).to.deep.equal(['englishMares']);
      expect(titlesOf(await search({ q: `stallions ${nonce}` }))).to.deep.equal(['stud']);
      // websearch syntax: a quoted phrase and an exclusion
      expect(titlesOf(await search({ q: `"grand prix" ${nonce}` }))).to.deep.equal(['dressageTitle']);
      expect(titlesOf(await search({ q: `${nonce} -pony -dressage -jument -mares -stallion` }))).to.deep.equal([]);
    });

    it('searches the linked horse breed too', async () => {
      expect(titlesOf(await search({ q: `hanoverian ${nonce}` }))).to.deep.equal(['dressageTitle']);
    });

    it('filters by type, price range and currency, country, breed and horse age', async () => {
      const q = nonce;
      expect(titlesOf(await search({ q, type: 'stud' }))).to.deep.equal(['stud']);
      expect(titlesOf(await search({ q, minPrice: 500_000, maxPrice: 1_500_000, currency: 'EUR', sort: 'price' }))).to.deep.equal(['dressageBody', 'french']);
      expect(titlesOf(await search({ q, currency: 'GBP' }))).to.deep.equal(['englishMares']);
      expect(titlesOf(await search({ q, country: 'fr', currency: 'EUR', sort: 'price' }))).to.deep.equal(['dressageBody', 'french']);
      expect(titlesOf(await search({ q, breed: 'selle français', currency: 'EUR', sort: 'price' }))).to.deep.equal(['dressageBody', 'french']);
      expect(titlesOf(await search({ q, minAge: 5, maxAge: 12, currency: 'EUR', sort: 'price' }))).to.deep.equal(['dressageBody', 'dressageTitle']);
      expect(titlesOf(await search({ q, maxAge: 4 }))).to.deep.equal(['french']);
      expect(titlesOf(await search({ q, minAge: 13 }))).to.deep.equal(['stud']);
    });

    it('sorts by price both ways within one currency, and by newest', async () => {
      expect(titlesOf(await search({ q: nonce, currency: 'EUR', sort: 'price' }))).to.deep.equal(['stud', 'cheap', 'dressageBody', 'french', 'dressageTitle']);
      expect(titlesOf(await search({ q: nonce, currency: 'EUR', sort: '-price' }))).to.deep.equal(['dressageTitle', 'french', 'dressageBody', 'cheap', 'stud']);
      expect(titlesOf(await search({ q: nonce, currency: 'GBP', sort: 'price' }))).to.deep.equal(['englishMares']);
      expect(titlesOf(await search({ q: nonce, sort: 'newest' }))).to.deep.equal(['cheap', 'stud', 'englishMares', 'french', 'dressageBody', 'dressageTitle']);
    });

    it('pages with an opaque cursor through every result exactly once, in every sort', async () => {
      for (const sort of ['newest', 'price', '-price', 'relevance']) {
        const byPrice = sort.endsWith('price');
        const extra: Record<string, string> = byPrice ? { currency: 'EUR' } : {};
        const all = (await search({ q: nonce, sort, limit: 50, ...extra })).items.map((i) => i.id);
        expect(all, sort).to.have.length(byPrice ? 5 : 6);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await search({ q: nonce, sort, limit: byPrice ? 2 : 4, ...extra, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).to.be.at.most(4);
          seen.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor;
        } while (cursor);
        expect(seen, sort).to.deep.equal(all);
      }
      const page = await search({ q: nonce, currency: 'EUR', sort: 'price', limit: 2 });
      const wrongSort = await api.get(`/api/marketplace/listings?q=${nonce}&sort=newest&cursor=${page.nextCursor}`);
      expect(wrongSort.status).to.equal(422);
      expect(wrongSort.body.message).to.match(/sort=price/);
    });

    it('finds and ranks a listing whose document is too big for the index like any other, whichever way the candidates are found', async function () {
      this.timeout(60_000);
      const seller = await registerUser(api);
      await setPlan(seller, 'pro');
      const word = `${nonce}big`;
      // ~1,400 distinct words: the search_vector is far past listing_search_head's 2,000-byte bound.
      const filler = Array.from({ length: 1_400 }, (_, i) => `w${i.toString(36)}`).join(' ');
      const fields = {
        inTitle: { title: `Hunter ${word}`, description: 'Bold and honest.' },
        inBody: { title: 'Quiet cob', description: `Safe ${word} for a novice.` },
        big: { title: 'Long story', description: `${word} ${filler}`.slice(0, 10_000) },
      };
      const ids: Record<string, string> = {};
      for (const [key, f] of Object.entries(fields)) {
        const l = await createListing(seller, f);
        await publish(seller, l.id);
        ids[key] = l.id;
      }
      const [row] = await sql(`select search_head is null as too_big, search_vector is not null as has_vector from listings where id = ?`, [ids.big]);
      expect(row).to.deep.equal({ too_big: true, has_vector: true });
      expect((await sql(`select count(*)::int as n from listings where id in (?, ?) and search_head = search_vector`, [ids.inTitle, ids.inBody]))[0].n).to.equal(2);

      const exact = (await sql(
        `select id, ts_rank(search_vector, websearch_to_tsquery('english', ?) || websearch_to_tsquery('french', ?)) as rank from listings where id in (?, ?, ?) order by rank desc, id desc`,
        [word, word, ids.inTitle, ids.inBody, ids.big],
      )) as { id: string; rank: number }[];
      const viaApi = (await search({ q: word })).items.map((i) => ({ id: i.id, rank: i.rank }));
      expect(viaApi).to.deep.equal(exact);
      expect(viaApi.map((i) => i.id)).to.include(ids.big);

      // The walk reads the index (the big one through its table row), the GIN branch the table: same candidates.
      const direct = async (candidates: number, relevancePath?: 'walk' | 'gin') => {
        const built = buildSearchSql(SearchListingsQuery.parse({ q: word }), new Date(), { relevanceCandidates: candidates, relevancePath });
        return ((await sql(built.sql, built.params)) as SearchRow[]).map((r) => ({ id: r.id, rank: r.rank }));
      };
      for (const path of ['walk', 'gin'] as const) {
        expect(await direct(500, path), path).to.deep.equal(exact);
        // Two candidates: the two newest matches (inBody, big), ranked.
        expect((await direct(2, path)).map((r) => r.id).sort(), path).to.deep.equal([ids.inBody, ids.big].sort());
      }
      // One candidate: the newest window (published last, the big one is among the 4 newest) holds it.
      expect(await direct(1)).to.deep.equal(exact.filter((r) => r.id === ids.big));
    });

    it('counts a view on each public read', async () => {
      const first = await api.get(`/api/marketplace/listings/${ids.cheap}`);
      const second = await api.get(`/api/marketplace/listings/${ids.cheap}`);
      expect(second.body.views).to.equal(first.body.views + 1);
      expect(first.body).to.not.have.property('ownerId');
      expect((await api.get(`/api/marketplace/listings/${ids.draft}`)).status).to.equal(404);
    });

    it('adds, lists and removes favorites idempotently, keeping the count', async () => {
      const fan = await registerUser(api);
      const add = await api.post(`/api/marketplace/listings/${ids.stud}/favorite`, undefined, fan.accessToken);
      expect(add.status).to.equal(200);
      expect(add.body).to.deep.equal({ listingId: ids.stud, favorited: true, favoritesCount: 1 });
      const again = await api.post(`/api/marketplace/listings/${ids.stud}/favorite`, undefined, fan.accessToken);
      expect(again.body.favoritesCount).to.equal(1);
      const list = await api.get('/api/marketplace/favorites', fan.accessToken);
      expect(list.body.items.map((i: { id: string }) => i.id)).to.deep.equal([ids.stud]);
      expect((await api.post(`/api/marketplace/listings/${ids.draft}/favorite`, undefined, fan.accessToken)).status).to.equal(404);
      expect((await api.delete(`/api/marketplace/listings/${ids.stud}/favorite`, fan.accessToken)).status).to.equal(204);
      expect((await api.delete(`/api/marketplace/listings/${ids.stud}/favorite`, fan.accessToken)).status).to.equal(204);
      expect((await api.get(`/api/marketplace/listings/${ids.stud}`)).body.favoritesCount).to.equal(0);
      expect((await api.get('/api/marketplace/favorites', fan.accessToken)).body.total).to.equal(0);
      expect((await api.get('/api/marketplace/favorites')).status).to.equal(401);
    });
  });

  describe('hardening (review fixes)', () => {
    const expectQuery400 = async (query: string, field: string, status = 400) => {
      const res = await api.get(`/api/marketplace/listings?${query}`);
      expect(res.status, `${query} → ${JSON.stringify(res.body)}`).to.equal(status);
      expect(res.body.details[0], query).to.include({ location: 'query', field });
      return res;
    };

    it('answers 422 on query.cursor to forged cursor keys Postgres cannot take, never a 500', async () => {
      const id = '0b4f3c1e-6a8d-4f3e-9a62-2d5c8b7e1f00';
      const forged = (sort: string, k: unknown) => Buffer.from(JSON.stringify({ s: sort, k, id })).toString('base64url');
      for (const query of [
        `q=mare&sort=relevance&cursor=${forged('relevance', 1e300)}`,
        `q=mare&sort=relevance&cursor=${forged('relevance', 1e-300)}`,
        `sort=newest&cursor=${forged('newest', '0000-01-01 00:00:00+00')}`,
        `sort=newest&cursor=${forged('newest', '2026-01-01 00:00:00+16')}`,
        `sort=newest&cursor=${forged('newest', 2 ** 62)}`,
        `sort=price&currency=EUR&cursor=${forged('price', 1e300)}`,
        `sort=-price&currency=EUR&cursor=${forged('-price', 2 ** 40)}`,
      ]) {
        const res = await expectQuery400(query, 'cursor', 422);
        expect(res.body.message).to.equal('Invalid query.cursor: its sort key is malformed');
      }
      // A real cursor of each kind still works (the newest key is exact to the microsecond).
      expect((await api.get(`/api/marketplace/listings?sort=newest&cursor=${forged('newest', Date.now() * 1000)}`)).status).to.equal(200);
      expect((await api.get(`/api/marketplace/listings?q=mare&cursor=${forged('relevance', 0.06)}`)).status).to.equal(200);
    });

    it('refuses a NUL character in the search text, the breed filter and listing text with 400', async () => {
      await expectQuery400('q=%00', 'q');
      await expectQuery400('q=mare%00', 'q');
      await expectQuery400('breed=KW%00PN', 'breed');
      const owner = await registerUser(api);
      for (const field of ['title', 'description', 'breed', 'city']) {
        const res = await api.post('/api/marketplace/my/listings', draft({ [field]: 'Bay\u0000 mare' }), owner.accessToken);
        expect(res.status, field).to.equal(400);
        expect(res.body.details[0]).to.include({ location: 'body', field, message: CONTROL_CHARACTERS_MESSAGE });
      }
      const l = await createListing(owner);
      const patch = await api.patch(`/api/marketplace/my/listings/${l.id}`, { description: 'ok\u0000' }, owner.accessToken);
      expect(patch.status).to.equal(400);
      expect((await api.get('/api/marketplace/my/listings', owner.accessToken)).body.total).to.equal(1);
    });

    it('accepts only https media URLs to a domain name', async () => {
      const owner = await registerUser(api);
      for (const [field, url] of [
        ['images', 'javascript:alert(document.cookie)'],
        ['images', 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4='],
        ['images', 'file:///etc/passwd'],
        ['videos', 'http://169.254.169.254/latest/meta-data/'],
        ['videos', 'https://169.254.169.254/latest/meta-data/'],
        ['images', 'http://cdn.example.com/mare.jpg'],
        ['images', 'https://localhost/mare.jpg'],
      ]) {
        const res = await api.post('/api/marketplace/my/listings', draft({ [field]: [url] }), owner.accessToken);
        expect(res.status, url).to.equal(400);
        expect(res.body.details[0].field, url).to.equal(`${field}.0`);
      }
      // A combination of fields the document cannot state: 422, and nothing created either.
      const alone = await api.post('/api/marketplace/my/listings', draft({ latitude: 48.8 }), owner.accessToken);
      expect(alone.status).to.equal(422);
      expect(alone.body.details[0]).to.include({ field: 'longitude', message: 'latitude and longitude go together' });
      expect((await api.get('/api/marketplace/my/listings', owner.accessToken)).body.total).to.equal(0);
      const ok = await createListing(owner, { images: ['https://cdn.example.com/mare.jpg'], videos: ['https://video.example.com/mare.mp4'] });
      expect(ok.images).to.deep.equal(['https://cdn.example.com/mare.jpg']);
      const patch = await api.patch(`/api/marketplace/my/listings/${ok.id}`, { images: ['javascript:alert(1)'] }, owner.accessToken);
      expect(patch.status).to.equal(400);
    });

    it('requires currency with a price filter or a price sort (422 naming currency)', async () => {
      for (const query of ['minPrice=100', 'maxPrice=100000', 'sort=price', 'sort=-price', 'q=mare&minPrice=1&maxPrice=5']) {
        const res = await expectQuery400(query, 'currency', 422);
        expect(res.body.message).to.match(/^Invalid query.currency: is required with minPrice, maxPrice or sort=price/);
      }
      expect((await api.get('/api/marketplace/listings?sort=-price&currency=EUR&minPrice=1')).status).to.equal(200);
    });

    it('refuses pseudo country codes (ZZ, EU, UN, XK, UK) in listings and search', async () => {
      const owner = await registerUser(api);
      for (const country of ['ZZ', 'EU', 'UN', 'XK', 'UK', 'QO', 'XA']) {
        const res = await api.post('/api/marketplace/my/listings', draft({ country }), owner.accessToken);
        expect(res.status, country).to.equal(400);
        expect(res.body.details[0].field).to.equal('country');
        await expectQuery400(`country=${country}`, 'country');
      }
      expect((await createListing(owner, { country: 'gb' })).country).to.equal('GB');
    });

    it('lists favorites that are no longer live as {id, title, status} only (no contact details or description)', async () => {
      const seller = await registerUser(api);
      await setPlan(seller, 'pro');
      const contact = { contactEmail: 'seller@example.test', contactPhone: '+33 6 12 34 56 78', description: 'Private details: call after 6pm.' };
      const make = async (title: string) => {
        const l = await createListing(seller, { title, ...contact });
        await publish(seller, l.id);
        return l.id;
      };
      const [live, sold, withdrawn, expired, overdue] = [await make('Live one'), await make('Sold one'), await make('Withdrawn one'), await make('Expired one'), await make('Overdue one')];
      const fan = await registerUser(api);
      for (const id of [live, sold, withdrawn, expired, overdue]) {
        expect((await api.post(`/api/marketplace/listings/${id}/favorite`, undefined, fan.accessToken)).status).to.equal(200);
      }
      await api.post(`/api/marketplace/my/listings/${sold}/sold`, undefined, seller.accessToken);
      await api.post(`/api/marketplace/my/listings/${withdrawn}/withdraw`, undefined, seller.accessToken);
      await sql(`update listings set status = 'expired' where id = ?`, [expired]);
      await sql(`update listings set expires_at = now() - interval '1 minute' where id = ?`, [overdue]);

      const res = await api.get('/api/marketplace/favorites', fan.accessToken);
      expect(res.status).to.equal(200);
      expect(res.body.total).to.equal(5);
      const byId = Object.fromEntries(res.body.items.map((i: { id: string }) => [i.id, i]));
      expect(byId[live]).to.include({ title: 'Live one', status: 'active', contactEmail: 'seller@example.test', contactPhone: '+33 6 12 34 56 78' });
      expect(byId[sold]).to.deep.equal({ id: sold, title: 'Sold one', status: 'sold' });
      expect(byId[withdrawn]).to.deep.equal({ id: withdrawn, title: 'Withdrawn one', status: 'withdrawn' });
      expect(byId[expired]).to.deep.equal({ id: expired, title: 'Expired one', status: 'expired' });
      expect(byId[overdue]).to.deep.equal({ id: overdue, title: 'Overdue one', status: 'expired' });
    });

    it('refuses a breed next to a linked horse (400), and unlinking clears the horse breed or keeps an explicit one', async () => {
      const owner = await registerUser(api);
      const horse = async (name: string, breed: string) => (await api.post('/api/horses', { name, breed, gender: 'mare' }, owner.accessToken)).body.id as string;
      const hanoverian = await horse('Dancer', 'Hanoverian');
      const kwpn = await horse('Sire', 'KWPN');
      const both = await api.post('/api/marketplace/my/listings', draft({ horseId: hanoverian, breed: 'Arabian' }), owner.accessToken);
      expect(both.status).to.equal(422);
      expect(both.body.details[0]).to.include({ location: 'body', field: 'breed' });
      expect(both.body.message).to.match(/breed comes from the linked horse/);

      const l = await createListing(owner, { horseId: hanoverian });
      expect(l.breed).to.equal('Hanoverian');
      const breedOnly = await api.patch(`/api/marketplace/my/listings/${l.id}`, { breed: 'Arabian' }, owner.accessToken);
      expect(breedOnly.status).to.equal(422);
      expect(breedOnly.body.message).to.match(/breed comes from the linked horse/);
      expect((await api.patch(`/api/marketplace/my/listings/${l.id}`, { horseId: kwpn, breed: 'Arabian' }, owner.accessToken)).status).to.equal(422);
      expect((await api.get(`/api/marketplace/my/listings/${l.id}`, owner.accessToken)).body).to.include({ breed: 'Hanoverian', horseId: hanoverian });

      const relinked = await api.patch(`/api/marketplace/my/listings/${l.id}`, { horseId: kwpn }, owner.accessToken);
      expect(relinked.body).to.include({ breed: 'KWPN', horseId: kwpn });
      const unlinked = await api.patch(`/api/marketplace/my/listings/${l.id}`, { horseId: null }, owner.accessToken);
      expect(unlinked.status).to.equal(200);
      expect(unlinked.body).to.include({ breed: null, horseId: null });

      await api.patch(`/api/marketplace/my/listings/${l.id}`, { horseId: kwpn }, owner.accessToken);
      const explicit = await api.patch(`/api/marketplace/my/listings/${l.id}`, { horseId: null, breed: 'Trakehner' }, owner.accessToken);
      expect(explicit.body).to.include({ breed: 'Trakehner', horseId: null });
      // Without a horse the breed is free text again.
      expect((await api.patch(`/api/marketplace/my/listings/${l.id}`, { breed: 'Holsteiner' }, owner.accessToken)).body.breed).to.equal('Holsteiner');
    });

    it('does not count an active listing past its expiry against the plan; renewing it then needs a free slot', async () => {
      const owner = await registerUser(api); // free: one active listing
      const stale = await createListing(owner, { title: 'Workflow never ran' });
      await publish(owner, stale.id);
      // Its expiry passed but nothing expired it (the workflow never started).
      await sql(`update listings set expires_at = now() - interval '1 minute' where id = ?`, [stale.id]);
      const next = await createListing(owner, { title: 'The new one' });
      expect((await publish(owner, next.id)).status).to.equal('active');

      const renew = await api.post(`/api/marketplace/my/listings/${stale.id}/renew`, undefined, owner.accessToken);
      expect(renew.status).to.equal(402);
      expect(renew.body.details).to.deep.equal({ plan: 'free', limit: 1, active: 1 });
      const [{ n }] = await sql(`select count(*)::int as n from listings where owner_id = ? and status = 'active' and expires_at > now()`, [owner.user.id]);
      expect(n).to.equal(1);

      await api.post(`/api/marketplace/my/listings/${next.id}/withdraw`, undefined, owner.accessToken);
      const renewed = await api.post(`/api/marketplace/my/listings/${stale.id}/renew`, undefined, owner.accessToken);
      expect(renewed.status).to.equal(200);
      // It had left search: renewing it is a republication.
      expect(renewed.body).to.include({ status: 'active', publication: 2 });
      expect(new Date(renewed.body.expiresAt).getTime()).to.be.closeTo(Date.now() + 30 * DAY_MS, 60_000);
    });
  });
});
