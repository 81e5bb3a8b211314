import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser } from '../support/http';
import { CONTROL_CHARACTERS_MESSAGE, MEDIA_URL_MESSAGE, textPattern } from '../../api/http/input-policy';

describe('One text and URL policy for every request (integration)', function () {
  this.timeout(60_000);
  let token: string;

  const { api } = useTestStack({ workers: false });
  before(async () => {
    token = (await registerUser(api)).accessToken;
  });

  const horseCount = async () => (await api.get('/api/horses', token)).body.total as number;

  it('refuses NUL and other control characters in a horse name with 400 naming the field, and stores nothing', async () => {
    const before = await horseCount();
    for (const name of ['Bad\u0000Name', 'Esc\u001b[31m', 'Line\nbreak', 'C1\u0085']) {
      const res = await api.post('/api/horses', { name, gender: 'mare' }, token);
      expect(res.status, JSON.stringify(name)).to.equal(400);
      expect(res.body.details[0]).to.include({ location: 'body', field: 'name', message: CONTROL_CHARACTERS_MESSAGE });
    }
    expect(await horseCount()).to.equal(before);
    const ok = await api.post('/api/horses', { name: '  Jappeloup de Luze  ', gender: 'gelding' }, token);
    expect(ok.status).to.equal(201);
    expect(ok.body.name).to.equal('Jappeloup de Luze');
  });

  it('refuses javascript:, plain http, metadata, private and local addresses in horse images with 400', async () => {
    for (const url of [
      'javascript:alert(1)',
      'http://169.254.169.254/latest/meta-data/',
      'https://169.254.169.254/latest/meta-data/',
      'https://10.0.0.7/a.jpg',
      'https://192.168.1.1/a.jpg',
      'https://[::1]/a.jpg',
      'https://localhost/a.jpg',
      'https://metadata.google.internal/computeMetadata/v1/',
      'http://cdn.example.com/a.jpg',
      '',
    ]) {
      const res = await api.post('/api/horses', { name: 'Imaged', gender: 'mare', images: [url] }, token);
      expect(res.status, url).to.equal(400);
      expect(res.body.details[0], url).to.include({ field: 'images.0', message: MEDIA_URL_MESSAGE });
    }
    const ok = await api.post('/api/horses', { name: 'Imaged', gender: 'mare', images: ['https://cdn.example.com/a.jpg'] }, token);
    expect(ok.status).to.equal(201);
  });

  it('answers PATCH of a listing with {"videos": [""]} with 400 (was a 500)', async () => {
    const created = await api.post(
      '/api/marketplace/my/listings',
      { type: 'sale', title: 'Bay mare for sale', description: 'Kind.', priceCents: 100, currency: 'EUR' },
      token,
    );
    expect(created.status).to.equal(201);
    const res = await api.patch(`/api/marketplace/my/listings/${created.body.id}`, { videos: [''] }, token);
    expect(res.status).to.equal(400);
    expect(res.body.details[0]).to.include({ field: 'videos.0' });
  });

  it('answers an undeclared method on a declared path with 405 and Allow, and an unknown path with 404', async () => {
    const collection = await api.call('DELETE', '/api/horses', { token });
    expect(collection.status).to.equal(405);
    expect(collection.headers.get('allow')).to.equal('GET, HEAD, POST');
    expect(collection.body).to.include({ statusCode: 405, error: 'Method Not Allowed' });
    const item = await api.call('PUT', `/api/horses/${crypto.randomUUID()}`, { token, body: { name: 'x' } });
    expect(item.status).to.equal(405);
    expect(item.headers.get('allow')).to.equal('DELETE, GET, HEAD, PATCH');
    expect((await api.get('/api/no-such-thing', token)).status).to.equal(404);
  });

  it('states the same rules in the OpenAPI document (pattern, lengths)', async () => {
    const doc = (await api.get('/api/openapi.json')).body;
    const name = doc.components.schemas.CreateHorse.properties.name;
    expect(name).to.include({ type: 'string', maxLength: 100, minLength: 1, pattern: textPattern({}) });
    const images = doc.components.schemas.CreateHorse.properties.images.items;
    expect(images.pattern).to.match(/^\^\[Hh\]\[Tt\]\[Tt\]\[Pp\]\[Ss\]:/);
    expect(new RegExp(name.pattern).test('Bad\u0000Name')).to.equal(false);
    expect(new RegExp(name.pattern).test('   ')).to.equal(false);
    expect(new RegExp(name.pattern).test(' Ok ')).to.equal(true);
  });
});
