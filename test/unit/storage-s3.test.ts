import { expect } from 'chai';
import { S3Storage } from '../../adapters/storage/s3';
import { testS3 } from '../support/infra';

const KEY = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/videos/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.mp4';

describe('S3 storage driver (against gofakes3)', () => {
  let storage: S3Storage;
  before(async function () {
    this.timeout(60_000);
    const s3 = await testS3();
    storage = new S3Storage({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  });

  it('presigns a PUT whose signed headers are content-type, content-length and if-none-match, and the object is there after the upload', async () => {
    const body = Buffer.from('fake-video-bytes');
    const target = await storage.createUpload({ key: KEY, contentType: 'video/mp4', size: body.length, expiresInSeconds: 300 });
    const url = new URL(target.url);
    expect(url.pathname).to.equal(`/${storage.bucket}/${KEY}`);
    expect(url.searchParams.get('X-Amz-Expires')).to.equal('300');
    expect(url.searchParams.get('X-Amz-SignedHeaders')!.split(';')).to.include.members(['content-length', 'content-type', 'host', 'if-none-match']);
    expect(target.headers).to.deep.equal({ 'content-type': 'video/mp4', 'content-length': String(body.length), 'if-none-match': '*' });
    const put = await fetch(target.url, { method: 'PUT', headers: target.headers, body });
    expect(put.status).to.equal(200);
    expect(await storage.head(KEY)).to.deep.equal({ size: body.length, contentType: 'video/mp4' });
    expect((await storage.getObject(KEY)).equals(body)).to.equal(true);
    const peek = await storage.peek(KEY, 4);
    expect(peek?.size).to.equal(body.length);
    expect(peek?.prefix.toString()).to.equal('fake');
  });

  it('peeks at size and first bytes with one ranged GET: a short object whole, an empty one as size 0, a missing one as null', async () => {
    const short = await storage.peek(KEY, 512);
    expect(short?.size).to.equal('fake-video-bytes'.length);
    expect(short?.prefix.toString()).to.equal('fake-video-bytes');
    const empty = KEY.replace('0a1b2c3d', '9a1b2c3d');
    await storage.putObject(empty, Buffer.alloc(0), 'video/mp4');
    expect(await storage.peek(empty, 512)).to.deep.equal({ size: 0, prefix: Buffer.alloc(0) });
    expect(await storage.peek(KEY.replace('0a1b2c3d', '8a1b2c3d'), 512)).to.equal(null);
  });

  it('presigns upload URLs for S3_PUBLIC_ENDPOINT (the name browsers reach) while the server keeps its own endpoint', async () => {
    const s3 = await testS3();
    const publicEndpoint = s3.endpoint.replace('127.0.0.1', 'localhost');
    const behindProxy = new S3Storage({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, publicEndpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
    const key = KEY.replace('0a1b2c3d', '7a1b2c3d');
    const target = await behindProxy.createUpload({ key, contentType: 'video/mp4', size: 4, expiresInSeconds: 300 });
    expect(new URL(target.url).origin).to.equal(new URL(publicEndpoint).origin);
    expect((await fetch(target.url, { method: 'PUT', headers: target.headers, body: Buffer.from('abcd') })).status).to.equal(200);
    expect(await behindProxy.head(key)).to.deep.equal({ size: 4, contentType: 'video/mp4' });
  });

  // gofakes3 does not verify signatures, so a PUT with another type or length cannot be shown
  // refused here; what it does enforce is the conditional write.
  it('is single-use: a second PUT to the presigned URL is refused (412, If-None-Match) and the first bytes stay', async () => {
    const key = KEY.replace('0a1b2c3d', '5a1b2c3d');
    const target = await storage.createUpload({ key, contentType: 'video/mp4', size: 4, expiresInSeconds: 300 });
    expect((await fetch(target.url, { method: 'PUT', headers: target.headers, body: Buffer.from('AAAA') })).status).to.equal(200);
    const again = await fetch(target.url, { method: 'PUT', headers: target.headers, body: Buffer.from('BBBB') });
    expect(again.status).to.equal(412);
    expect((await storage.getObject(key)).toString()).to.equal('AAAA');
  });

  it('signs the bare media type when the content type has parameters', async () => {
    const target = await storage.createUpload({ key: KEY.replace('0a1b2c3d', '6a1b2c3d'), contentType: 'video/mp4; codecs="avc1"', size: 3, expiresInSeconds: 300 });
    expect(target.headers['content-type']).to.equal('video/mp4');
  });

  it('copies an object server-side to the analysis key and downloads it through a temp file', async () => {
    const to = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/analyses/a3/video.mp4';
    await storage.copyObject(KEY, to);
    expect((await storage.getObject(to)).toString()).to.equal('fake-video-bytes');
    const { mkdtempSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ht-s3-'));
    let progress = 0;
    await storage.downloadToFile(to, join(dir, 'video'), { onProgress: (b) => (progress = b) });
    expect(progress).to.equal('fake-video-bytes'.length);
    expect(readdirSync(dir)).to.deep.equal(['video']);
    const aborted = await storage.downloadToFile(to, join(dir, 'again'), { signal: AbortSignal.abort() }).catch((e: Error) => e);
    expect(aborted).to.be.instanceOf(Error);
    expect(readdirSync(dir)).to.deep.equal(['video']);
  });

  it('answers null for a missing object and deletes a prefix', async () => {
    expect(await storage.head(KEY.replace('0a1b', 'ffff'))).to.equal(null);
    const prefix = 'orgs/3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b/analyses/a1/frames/';
    await storage.putObject(`${prefix}000.jpg`, Buffer.from('x'), 'image/jpeg');
    await storage.putObject(`${prefix}001.jpg`, Buffer.from('y'), 'image/jpeg');
    expect(await storage.deletePrefix(prefix)).to.equal(2);
    expect(await storage.head(`${prefix}001.jpg`)).to.equal(null);
    expect(await storage.head(KEY)).to.not.equal(null);
  });

  it('downloads an object to a local file for ffmpeg', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'ht-s3-')), 'video');
    await storage.downloadToFile(KEY, file);
    expect(readFileSync(file).toString()).to.equal('fake-video-bytes');
  });
});
