import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { apiClient, registerUser } from '../support/http';

describe('horses through the HTTP API', () => {
  let owner: Awaited<ReturnType<typeof registerUser>>;
  let stranger: Awaited<ReturnType<typeof registerUser>>;

  const { api } = useTestStack({ workers: false });
  before(async () => {
    owner = await registerUser(api, { firstName: 'Owner' });
    stranger = await registerUser(api, { firstName: 'Stranger' });
  });

  const mare = { name: 'Bella', breed: 'Selle Français', birthDate: '2015-05-01', gender: 'mare', color: 'bay', heightCm: 165, weightKg: 550, ueln: '250001234567890', microchip: '250259600123456' };

  it('creates a horse in my stable and reads it back with every field', async () => {
    const created = await api.post('/api/horses', mare, owner.accessToken);
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ ...mare, organizationId: owner.user.defaultOrganizationId });
    const read = await api.get(`/api/horses/${created.body.id}`, owner.accessToken);
    expect(read.status).to.equal(200);
    expect(read.body).to.deep.equal(created.body);
  });

  it("answers 404 for another organization's horse on read, update and delete, and changes nothing", async () => {
    const created = await api.post('/api/horses', { name: 'Private', gender: 'gelding' }, owner.accessToken);
    const id = created.body.id;
    expect((await api.get(`/api/horses/${id}`, stranger.accessToken)).status).to.equal(404);
    expect((await api.patch(`/api/horses/${id}`, { name: 'Stolen' }, stranger.accessToken)).status).to.equal(404);
    expect((await api.delete(`/api/horses/${id}`, stranger.accessToken)).status).to.equal(404);
    expect((await api.post('/api/horses', { name: 'X', gender: 'mare', organizationId: owner.user.defaultOrganizationId }, stranger.accessToken)).status).to.equal(404);
    const list = await api.get('/api/horses?limit=100', stranger.accessToken);
    expect(list.body.items.map((h: { id: string }) => h.id)).not.to.include(id);
    const still = await api.get(`/api/horses/${id}`, owner.accessToken);
    expect(still.body.name).to.equal('Private');
  });

  it('lists with filters, sort and pagination', async () => {
    const user = await registerUser(api);
    for (const [name, gender, birthDate] of [
      ['Alpha', 'mare', '2010-01-01'],
      ['Bravo', 'stallion', '2012-01-01'],
      ['Charlie', 'gelding', '2014-01-01'],
      ['Delta', 'mare', '2016-01-01'],
      ['Echo', 'mare', null],
    ] as const) {
      const res = await api.post('/api/horses', { name, gender, birthDate, breed: name === 'Bravo' ? 'Hanoverian' : 'KWPN' }, user.accessToken);
      expect(res.status).to.equal(201);
    }
    const page1 = await api.get('/api/horses?limit=2&page=1&sort=name', user.accessToken);
    expect(page1.body.total).to.equal(5);
    expect(page1.body.items.map((h: { name: string }) => h.name)).to.deep.equal(['Alpha', 'Bravo']);
    const page3 = await api.get('/api/horses?limit=2&page=3&sort=name', user.accessToken);
    expect(page3.body.items.map((h: { name: string }) => h.name)).to.deep.equal(['Echo']);
    const mares = await api.get('/api/horses?gender=mare&sort=-birthDate', user.accessToken);
    expect(mares.body.items.map((h: { name: string }) => h.name)).to.deep.equal(['Delta', 'Alpha', 'Echo']);
    const search = await api.get('/api/horses?q=rav', user.accessToken);
    expect(search.body.items.map((h: { name: string }) => h.name)).to.deep.equal(['Bravo']);
    const breed = await api.get('/api/horses?breed=hanoverian', user.accessToken);
    expect(breed.body.total).to.equal(1);
    const bad = await api.get('/api/horses?sort=weight&limit=1000', user.accessToken);
    expect(bad.status).to.equal(400);
    expect(bad.body.details.map((d: { field: string }) => d.field).sort()).to.deep.equal(['limit', 'sort']);
  });

  it('updates only what is sent and links sire and dam of the same stable with the right gender', async () => {
    const user = await registerUser(api);
    const dam = (await api.post('/api/horses', { name: 'Dam', gender: 'mare' }, user.accessToken)).body;
    const sire = (await api.post('/api/horses', { name: 'Sire', gender: 'stallion' }, user.accessToken)).body;
    const foal = (await api.post('/api/horses', { name: 'Foal', gender: 'gelding', sireId: sire.id, damId: dam.id }, user.accessToken)).body;
    expect(foal).to.include({ sireId: sire.id, damId: dam.id });
    const wrong = await api.patch(`/api/horses/${foal.id}`, { sireId: dam.id }, user.accessToken);
    expect(wrong.status).to.equal(422);
    expect(wrong.body.details[0].field).to.equal('sireId');
    const foreignDam = (await api.post('/api/horses', { name: 'Foreign', gender: 'mare' }, stranger.accessToken)).body;
    expect((await api.patch(`/api/horses/${foal.id}`, { damId: foreignDam.id }, user.accessToken)).status).to.equal(422);
    const renamed = await api.patch(`/api/horses/${foal.id}`, { name: 'Grown', color: 'grey' }, user.accessToken);
    expect(renamed.body).to.include({ name: 'Grown', color: 'grey', sireId: sire.id, gender: 'gelding' });
    expect((await api.delete(`/api/horses/${foal.id}`, user.accessToken)).status).to.equal(204);
    expect((await api.get(`/api/horses/${foal.id}`, user.accessToken)).status).to.equal(404);
  });

  it('rejects bad input with the field and the rule, and writes nothing', async () => {
    const user = await registerUser(api);
    const cases: [Record<string, unknown>, string][] = [
      [{ gender: 'mare' }, 'name'],
      [{ name: 'A', gender: 'unicorn' }, 'gender'],
      [{ name: 'A', gender: 'mare', birthDate: '2999-01-01' }, 'birthDate'],
      [{ name: 'A', gender: 'mare', birthDate: '01/02/2015' }, 'birthDate'],
      [{ name: 'A', gender: 'mare', heightCm: '160' }, 'heightCm'],
      [{ name: 'A', gender: 'mare', microchip: '123' }, 'microchip'],
      [{ name: 'A', gender: 'mare', owner: 'me' }, ''],
    ];
    for (const [body, field] of cases) {
      const res = await api.post('/api/horses', body, user.accessToken);
      expect(res.status, JSON.stringify(body)).to.equal(body.birthDate === '2999-01-01' ? 422 : 400);
      if (field) expect(res.body.details[0].field, JSON.stringify(res.body)).to.equal(field);
    }
    expect((await api.get('/api/horses', user.accessToken)).body.total).to.equal(0);
    expect((await api.get('/api/horses/not-a-uuid', user.accessToken)).status).to.equal(400);
    expect((await api.get('/api/horses')).status).to.equal(401);
  });
});

describe('rate limiting', () => {
  const { stack } = useTestStack({ workers: false, env: { AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '100000' } });

  it('answers 429 with the JSON error shape once the sign-in limit is spent', async () => {
    const api = apiClient(stack.baseUrl);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await api.post('/api/auth/login', { email: 'nobody@example.test', password: 'x' })).status);
    expect(statuses).to.deep.equal([401, 401, 401, 429, 429]);
    const last = await api.post('/api/auth/login', { email: 'nobody@example.test', password: 'x' });
    expect(last.body.statusCode).to.equal(429);
    expect(last.body.message).to.match(/Too many sign-in attempts/);
  });
});
