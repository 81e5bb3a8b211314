import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser } from '../support/http';
import { dayOf, plusDays } from '../../domain/health';

type User = Awaited<ReturnType<typeof registerUser>>;

/**
 * "Health record available" on a marketplace listing: the seller opts in per listing
 * (shareHealthSummary) and the listing page shows three facts of the linked horse's health
 * book (vaccinations up to date, last vet check, Coggins valid until), computed by the domain
 * rules. Opted out: null. A buyer of another organization sees the summary and never a
 * record (the horse's health book answers them 404). Search results never carry it.
 */
describe('marketplace: health summary of a listed horse (HTTP API)', () => {
  const { stack, api } = useTestStack({ workers: false });
  const today = dayOf(Date.now());
  const SECRET_NOTE = 'private: colic surgery history';

  async function ok<T = Record<string, unknown>>(res: Promise<{ status: number; body: unknown }>, status: number): Promise<T> {
    const r = await res;
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    return r.body as T;
  }
  const record = (seller: User, horseId: string, body: Record<string, unknown>) => ok<{ id: string }>(api.post(`/api/horses/${horseId}/health/records`, body, seller.accessToken), 201);
  const listing = (seller: User, body: Record<string, unknown>) =>
    ok<{ id: string; shareHealthSummary: boolean }>(
      api.post('/api/marketplace/my/listings', { type: 'sale', title: 'Bay mare for sale', description: 'Kind and sound.', priceCents: 900_000, currency: 'EUR', country: 'FR', ...body }, seller.accessToken),
      201,
    );
  const publish = (seller: User, id: string) => ok(api.post(`/api/marketplace/my/listings/${id}/publish`, undefined, seller.accessToken), 200);

  it('shows the summary only when the seller shares it, and a buyer of another organization never reaches a record', async () => {
    const seller = await registerUser(api);
    const buyer = await registerUser(api);
    // Two live listings of one horse: more than the free plan's one.
    await stack.orm.em.fork().getConnection().execute(`update users set plan = 'premium' where id = ?`, [seller.user.id]);
    const horse = await ok<{ id: string }>(api.post('/api/horses', { name: 'Shared', gender: 'mare', birthDate: '2016-04-01' }, seller.accessToken), 201);
    const vet = await record(seller, horse.id, { kind: 'vet', date: plusDays(today, -20), details: { reason: 'annual check' }, notes: SECRET_NOTE });
    await record(seller, horse.id, { kind: 'vet', date: plusDays(today, -200), details: { reason: 'older visit' } });
    const coggins = await record(seller, horse.id, { kind: 'test', date: plusDays(today, -30), details: { testType: 'coggins', result: 'negative', expiresOn: plusDays(today, 335) } });

    const shared = await listing(seller, { horseId: horse.id, shareHealthSummary: true });
    expect(shared.shareHealthSummary, 'the owner sees the setting').to.equal(true);
    const hidden = await listing(seller, { horseId: horse.id });
    expect(hidden.shareHealthSummary, 'off unless asked').to.equal(false);
    await publish(seller, shared.id);
    await publish(seller, hidden.id);

    // No vaccination yet: not up to date (influenza and tetanus never recorded).
    const page = await ok<Record<string, unknown>>(api.get(`/api/marketplace/listings/${shared.id}`, buyer.accessToken), 200);
    expect(page.health).to.deep.equal({ vaccinationsUpToDate: false, lastVetCheck: plusDays(today, -20), cogginsValidUntil: plusDays(today, 335), cogginsResult: 'negative' });
    const text = JSON.stringify(page);
    for (const leak of [SECRET_NOTE, 'annual check', vet.id, coggins.id, '"records"']) expect(text, `the page does not carry ${leak}`).to.not.include(leak);

    // A primary course of influenza + tetanus 30 days apart: both items ok until the first booster.
    await record(seller, horse.id, { kind: 'vaccination', date: plusDays(today, -60), details: { diseases: ['influenza', 'tetanus'], doseNumber: 1 } });
    await record(seller, horse.id, { kind: 'vaccination', date: plusDays(today, -30), details: { diseases: ['influenza', 'tetanus'], doseNumber: 2 } });
    const anonymous = await ok<{ health: Record<string, unknown> }>(api.get(`/api/marketplace/listings/${shared.id}`), 200);
    expect(anonymous.health).to.deep.include({ vaccinationsUpToDate: true });

    // A later positive Coggins (EIA) test: no certificate any more, and the buyer is told why.
    await record(seller, horse.id, { kind: 'test', date: plusDays(today, -2), details: { testType: 'coggins', result: 'positive', expiresOn: plusDays(today, 363) } });
    expect((await ok<{ health: Record<string, unknown> }>(api.get(`/api/marketplace/listings/${shared.id}`, buyer.accessToken), 200)).health).to.deep.include({ cogginsValidUntil: null, cogginsResult: 'positive' });

    // Opted out: no summary, on the same horse.
    expect((await ok<{ health: unknown }>(api.get(`/api/marketplace/listings/${hidden.id}`, buyer.accessToken), 200)).health).to.equal(null);
    // The buyer reaches nothing of the health book itself.
    expect((await api.get(`/api/horses/${horse.id}/health`, buyer.accessToken)).status).to.equal(404);
    expect((await api.get(`/api/horses/${horse.id}/health/records/${vet.id}`, buyer.accessToken)).status).to.equal(404);

    // Search hits never carry it (no per-row health read in the search query).
    const search = await ok<{ items: Record<string, unknown>[] }>(api.get(`/api/marketplace/listings?q=${encodeURIComponent('Bay mare')}&limit=50`), 200);
    const hit = search.items.find((i) => i.id === shared.id);
    expect(hit, 'the shared listing is found').to.not.equal(undefined);
    expect(hit).to.not.have.property('health');

    // The seller turns it off: the page stops showing it.
    const patched = await ok<{ shareHealthSummary: boolean }>(api.patch(`/api/marketplace/my/listings/${shared.id}`, { shareHealthSummary: false }, seller.accessToken), 200);
    expect(patched.shareHealthSummary).to.equal(false);
    expect((await ok<{ health: unknown }>(api.get(`/api/marketplace/listings/${shared.id}`, buyer.accessToken), 200)).health).to.equal(null);
  });

  it('a listing without a horse has no summary, and a non-boolean shareHealthSummary is a 400 that writes nothing', async () => {
    const seller = await registerUser(api);
    const noHorse = await listing(seller, { shareHealthSummary: true, breed: 'Selle Français' });
    await publish(seller, noHorse.id);
    expect((await ok<{ health: unknown }>(api.get(`/api/marketplace/listings/${noHorse.id}`), 200)).health).to.equal(null);

    const before = await stack.orm.em.fork().getConnection().execute('select count(*)::int as n from listings where owner_id = ?', [seller.user.id]);
    const bad = await api.post('/api/marketplace/my/listings', { type: 'sale', title: 'Grey gelding', description: 'x', priceCents: 1, currency: 'EUR', shareHealthSummary: 'yes' }, seller.accessToken);
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.body)).to.include('shareHealthSummary');
    const after = await stack.orm.em.fork().getConnection().execute('select count(*)::int as n from listings where owner_id = ?', [seller.user.id]);
    expect(after[0].n).to.equal(before[0].n);
  });
});
