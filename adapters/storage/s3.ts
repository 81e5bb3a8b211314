import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  S3Client,
  PutObjectCommand,
  CopyObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  DeleteObjectsCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bareMediaType } from '../../domain/analysis';
import { assertSafeKey, type ObjectInfo, type ObjectPeek, type StoragePort, type UploadRequest, type UploadTarget } from './port';

export interface S3Settings {
  bucket: string;
  region: string;
  endpoint?: string;
  /**
   * The endpoint browsers reach, for presigned upload URLs, when the server's own endpoint
   * is an internal name (http://minio:9000 on a compose network). Unset: `endpoint`.
   */
  publicEndpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Connect timeout and socket inactivity timeout of each request (ms); unset: the SDK's (none). */
  requestTimeoutMs?: number;
}

/** The first `length` bytes of a stream; the rest is not read (the stream is destroyed). */
async function readAtMost(body: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    if (got >= length) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, length);
}

const notFound = (err: unknown) =>
  err instanceof S3ServiceException && (err.$metadata?.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey');

/**
 * S3 (AWS, MinIO, any S3-compatible server). Uploads are presigned PUTs whose signature
 * covers content type, length and `If-None-Match: *` (a conditional write: S3 refuses a
 * second PUT to an existing key with 412, so an upload URL is single-use where the server
 * supports conditional writes). The analysis works on its own server-side copy anyway.
 */
export class S3Storage implements StoragePort {
  readonly driver = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;

  /** Signs the URLs handed to clients (the signature covers the host they will send). */
  private readonly presigner: S3Client;

  constructor(settings: S3Settings) {
    this.bucket = settings.bucket;
    this.client = S3Storage.makeClient(settings, settings.endpoint);
    this.presigner = settings.publicEndpoint ? S3Storage.makeClient(settings, settings.publicEndpoint) : this.client;
  }

  private static makeClient(settings: S3Settings, endpoint: string | undefined): S3Client {
    return new S3Client({
      region: settings.region,
      endpoint,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.accessKeyId && settings.secretAccessKey
        ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
        : {}),
      // Checksums on presigned PUTs would force the client to compute a CRC of the whole video.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // An unreachable or stalled endpoint fails the call (and the request waiting on it) instead of hanging.
      // requestTimeout is socket inactivity, so a long download that keeps flowing is not cut.
      ...(settings.requestTimeoutMs ? { requestHandler: { connectionTimeout: settings.requestTimeoutMs, requestTimeout: settings.requestTimeoutMs } } : {}),
    });
  }

  async createUpload(req: UploadRequest): Promise<UploadTarget> {
    assertSafeKey(req.key);
    const contentType = bareMediaType(req.contentType);
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: req.key, ContentType: contentType, ContentLength: req.size, IfNoneMatch: '*' });
    // content-type, content-length and if-none-match are signed headers: the client must send them as given.
    const url = await getSignedUrl(this.presigner, command, {
      expiresIn: req.expiresInSeconds,
      signableHeaders: new Set(['content-type', 'content-length', 'if-none-match']),
    });
    return {
      url,
      method: 'PUT',
      headers: { 'content-type': contentType, 'content-length': String(req.size), 'if-none-match': '*' },
      expiresAt: new Date(Date.now() + req.expiresInSeconds * 1000),
    };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertSafeKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, contentType: out.ContentType ?? null };
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  /**
   * One ranged GET: the body is the prefix and Content-Range (`bytes 0-511/<total>`) the
   * object's size. An empty object has no byte to range over: S3 answers 416 (InvalidRange),
   * which says the object exists with size 0. A server that ignores Range answers 200 with the
   * whole object: its Content-Length is the size, and the body is cut after `length` bytes.
   */
  async peek(key: string, length: number): Promise<ObjectPeek | null> {
    assertSafeKey(key);
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${length - 1}` }));
    } catch (err) {
      if (notFound(err)) return null;
      if (err instanceof S3ServiceException && (err.$metadata?.httpStatusCode === 416 || err.name === 'InvalidRange')) return { size: 0, prefix: Buffer.alloc(0) };
      throw err;
    }
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    const size = total !== undefined ? Number(total) : out.ContentLength;
    if (size === undefined) throw new Error(`S3 GET ${key}: neither Content-Range nor Content-Length in the answer, so the size is unknown`);
    return { size, prefix: await readAtMost(out.Body as Readable, length) };
  }

  async getObject(key: string): Promise<Buffer> {
    assertSafeKey(key);
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void> {
    assertSafeKey(key);
    const data = Buffer.isBuffer(body) ? body : Buffer.concat(await body.toArray());
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentType: contentType, ContentLength: data.length }));
  }

  async downloadToFile(key: string, path: string, opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {}): Promise<void> {
    assertSafeKey(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: opts.signal });
      const body = out.Body as Readable;
      let bytes = 0;
      body.on('data', (c: Buffer) => opts.onProgress?.((bytes += c.length)));
      await pipeline(body, createWriteStream(tmp), { signal: opts.signal });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async copyObject(from: string, to: string): Promise<void> {
    assertSafeKey(from);
    assertSafeKey(to);
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertSafeKey(prefix.replace(/\/+$/, ''));
    let count = 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) {
        await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
        count += keys.length;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return count;
  }
}

