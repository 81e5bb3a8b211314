import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
    const peek = await storage.peek(KEY, 3);
    expect(peek?.size).to.equal(5);
    expect(peek?.prefix.toString()).to.equal('abc');
  });

  it('peeks at size and first bytes in one call: a short object whole, an empty one as size 0, a missing one or a folder as null', async () => {
    const short = await storage.peek(KEY, 512);
    expect(short?.size).to.equal(5);
    expect(short?.prefix.toString()).to.equal('abcde');
    const empty = KEY.replace('0a1b2c3d', '9a1b2c3d');
    await storage.putObject(empty, Buffer.alloc(0), 'video/mp4');
    expect(await storage.peek(empty, 512)).to.deep.equal({ size: 0, prefix: Buffer.alloc(0) });
    expect(await storage.peek(KEY.replace('0a1b2c3d', '8a1b2c3d'), 512)).to.equal(null);
    expect(await storage.peek('orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b', 512)).to.equal(null);
    const err = await storage.peek('../etc/passwd', 512).catch((e) => e);
    expect(err).to.be.instanceOf(StorageKeyError);
  });

  it('refuses a forged, tampered or expired token, another content type, and more bytes than granted', async () => {
    // A key not uploaded yet (uploads are single-use).
    const target = await storage.createUpload({ key: KEY.replace('0a1b2c3d', '0f1b2c3d'), contentType: 'video/mp4', size: 4, expiresInSeconds: 60 });
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

  it('is single-use: a second PUT with the same token is refused (409) and the stored bytes stay as they were', async () => {
    const key = KEY.replace('0a1b2c3d', '1a1b2c3d');
    const target = await storage.createUpload({ key, contentType: 'video/mp4', size: 4, expiresInSeconds: 60 });
    await storage.acceptUpload(tokenOf(target.url), Readable.from([Buffer.from('AAAA')]), { contentType: 'video/mp4' });
    const again = await storage.acceptUpload(tokenOf(target.url), Readable.from([Buffer.from('BBBB')]), { contentType: 'video/mp4' }).catch((e: UploadRejected) => e);
    expect(again).to.be.instanceOf(UploadRejected);
    expect((again as UploadRejected).status).to.equal(409);
    expect((await storage.getObject(key)).toString()).to.equal('AAAA');
  });

  it('lets exactly one of two concurrent PUTs with the same token store its bytes', async () => {
    const key = KEY.replace('0a1b2c3d', '2a1b2c3d');
    const token = tokenOf((await storage.createUpload({ key, contentType: 'video/mp4', size: 4, expiresInSeconds: 60 })).url);
    const results = await Promise.allSettled(['CCCC', 'DDDD'].map((b) => storage.acceptUpload(token, Readable.from([Buffer.from(b)]), { contentType: 'video/mp4' })));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect((refused.reason as UploadRejected).status).to.equal(409);
    expect(['CCCC', 'DDDD']).to.include((await storage.getObject(key)).toString());
    expect(readdirSync(join(dir, ...key.split('/').slice(0, -1))).filter((f) => f.endsWith('.part'))).to.deep.equal([]);
  });

  it('writes only the key of its token: nothing else appears in the storage folder', async () => {
    const isolated = new LocalStorage({ dir: mkdtempSync(join(tmpdir(), 'horse-tempo-local-storage-')), secret: 'test-secret-test-secret-test-secret-xx' });
    const target = await isolated.createUpload({ key: KEY, contentType: 'video/mp4', size: 3, expiresInSeconds: 60 });
    await isolated.acceptUpload(tokenOf(target.url), Readable.from([Buffer.from('xyz')]), { contentType: 'video/mp4' });
    const files = readdirSync(isolated.localPath('orgs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    expect(files.sort()).to.deep.equal([isolated.localPath(KEY), `${isolated.localPath(KEY)}.meta.json`]);
  });

  it('signs the bare media type: a Content-Type with parameters (codecs) uploads as video/mp4', async () => {
    const key = KEY.replace('0a1b2c3d', '3a1b2c3d');
    const target = await storage.createUpload({ key, contentType: 'video/mp4; codecs="avc1.42E01E"', size: 3, expiresInSeconds: 60 });
    expect(target.headers).to.deep.equal({ 'content-type': 'video/mp4' });
    await storage.acceptUpload(tokenOf(target.url), Readable.from([Buffer.from('abc')]), { contentType: 'Video/MP4; codecs="avc1.42E01E"' });
    expect(await storage.head(key)).to.deep.equal({ size: 3, contentType: 'video/mp4' });
  });

  it('copies an object to a key that keeps its bytes even if the source is replaced later', async () => {
    const from = KEY.replace('0a1b2c3d', '4a1b2c3d');
    const to = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/analyses/a2/video.mp4';
    await storage.putObject(from, Buffer.from('original'), 'video/mp4');
    await storage.copyObject(from, to);
    // A replace on disk is a new file renamed over the old one.
    writeFileSync(`${storage.localPath(from)}.new`, 'swapped!');
    renameSync(`${storage.localPath(from)}.new`, storage.localPath(from));
    expect((await storage.getObject(to)).toString()).to.equal('original');
    expect(await storage.head(to)).to.deep.equal({ size: 8, contentType: 'video/mp4' });
  });

  it('downloads to a file through a temp file of its own (no .part left behind)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ht-dl-')), 'video');
    await storage.downloadToFile(KEY, out);
    expect(readFileSync(out).toString()).to.equal('abcde');
    expect(readdirSync(join(out, '..'))).to.deep.equal(['video']);
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
