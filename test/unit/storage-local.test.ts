import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { LocalStorage, UploadRejected } from '../../adapters/storage/local';
import { StorageKeyError } from '../../adapters/storage/port';

const KEY = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/videos/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.mp4';
const tokenOf = (url: string) => url.split('/').pop()!;

describe('local storage driver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-local-storage-'));
  const storage = new LocalStorage({ dir, secret: 'test-secret-test-secret-test-secret-xx' });

  it('issues a signed upload URL on our API and stores exactly the bytes PUT there', async () => {
    const target = await storage.createUpload({ key: KEY, contentType: 'video/mp4', size: 5, expiresInSeconds: 60 });
    expect(target.url).to.match(/^\/api\/uploads\/[\w-]+\.[\w-]+$/);
    expect(target).to.include({ method: 'PUT' });
    expect(target.headers).to.deep.equal({ 'content-type': 'video/mp4' });
    const stored = await storage.acceptUpload(tokenOf(target.url), Readable.from([Buffer.from('ab'), Buffer.from('cde')]), { contentType: 'video/mp4' });
    expect(stored).to.deep.equal({ key: KEY, size: 5 });
    expect(await storage.head(KEY)).to.deep.equal({ size: 5, contentType: 'video/mp4' });
    expect((await storage.getObject(KEY)).toString()).to.equal('abcde');
    expect((await storage.readPrefix(KEY, 3)).toString()).to.equal('abc');
  });

  it('refuses a forged, tampered or expired token, another content type, and more bytes than granted', async () => {
    const target = await storage.createUpload({ key: KEY, contentType: 'video/mp4', size: 4, expiresInSeconds: 60 });
    const token = tokenOf(target.url);
    const [payload, mac] = token.split('.');
    const other = Buffer.from(JSON.stringify({ key: KEY.replace('3f2b', 'ffff'), contentType: 'video/mp4', max: 4, exp: 9e9 })).toString('base64url');
    const reject = (t: string, ct = 'video/mp4', body = 'abcd') =>
      storage.acceptUpload(t, Readable.from([Buffer.from(body)]), { contentType: ct }).then(
        () => null,
        (e: UploadRejected) => e,
      );
    expect((await reject(`${other}.${mac}`))?.status).to.equal(401);
    expect((await reject(`${payload}.AAAA`))?.status).to.equal(401);
    expect((await reject('garbage'))?.status).to.equal(401);
    expect((await reject(token, 'video/webm'))?.status).to.equal(415);
    const tooMany = await reject(token, 'video/mp4', 'abcdefgh');
    expect(tooMany?.status).to.equal(413);
    const expired = storage.signGrant({ key: KEY, contentType: 'video/mp4', max: 4, exp: Math.floor(Date.now() / 1000) - 1 });
    const e = await reject(expired);
    expect(e?.status).to.equal(401);
    expect(e?.message).to.match(/expired/);
  });

  it('refuses keys that could escape the storage folder', async () => {
    for (const key of ['../etc/passwd', '/abs/path', 'orgs//x', 'orgs/./x', 'orgs/a/../../b']) {
      const err = await storage.head(key).catch((e) => e);
      expect(err, key).to.be.instanceOf(StorageKeyError);
    }
  });

  it('deletes a prefix (frames of an analysis) and leaves the rest', async () => {
    const prefix = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/analyses/a1/frames/';
    await storage.putObject(`${prefix}000.jpg`, Buffer.from('x'), 'image/jpeg');
    await storage.putObject(`${prefix}001.jpg`, Buffer.from('y'), 'image/jpeg');
    expect(await storage.deletePrefix(prefix)).to.equal(2);
    expect(await storage.head(`${prefix}000.jpg`)).to.equal(null);
    expect(await storage.head(KEY)).to.not.equal(null);
  });
});
