import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { close as closeCb, createReadStream, createWriteStream, fstat as fstatCb, open as openCb, read as readCb, type Stats } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, stat, unlink, writeFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bareMediaType } from '../../domain/analysis';
import { assertSafeKey, type ObjectInfo, type ObjectPeek, type StoragePort, type UploadRequest, type UploadTarget } from './port';

const fsOpen = (path: string, flags: string) => new Promise<number>((res, rej) => openCb(path, flags, (err, fd) => (err ? rej(err) : res(fd))));
const fsFstat = (fd: number) => new Promise<Stats>((res, rej) => fstatCb(fd, (err, s) => (err ? rej(err) : res(s))));
const fsRead = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((res, rej) => readCb(fd, buf, offset, length, position, (err, n) => (err ? rej(err) : res(n))));
const fsClose = (fd: number) => new Promise<void>((res, rej) => closeCb(fd, (err) => (err ? rej(err) : res())));

/** What a local upload token grants: one key, one content type, at most `max` bytes, until `exp`. */
export interface UploadGrant {
  key: string;
  contentType: string;
  max: number;
  /** Expiry, epoch seconds. */
  exp: number;
}

export class UploadRejected extends Error {
  override name = 'UploadRejected';
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 411 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const exists = (path: string) =>
  stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );

/**
 * The embedded default: objects are files under a folder, uploads go to our own API
 * (`PUT /api/uploads/<token>`) with an HMAC-signed token that fixes key, content type,
 * size and expiry — the same guarantees a presigned S3 URL gives. Uploads are single-use:
 * the key of a token is written once (a second PUT answers 409), so a video cannot be
 * swapped after an analysis hashed it.
 */
export class LocalStorage implements StoragePort {
  readonly driver = 'local' as const;
  private readonly root: string;
  private readonly key: Buffer;

  constructor(opts: { dir: string; secret: string; uploadPath?: string }) {
    this.root = resolve(opts.dir);
    this.key = createHmac('sha256', opts.secret).update('horse-tempo/local-uploads/v1').digest();
    this.uploadPath = opts.uploadPath ?? '/api/uploads';
  }
  private readonly uploadPath: string;

  private path(key: string): string {
    assertSafeKey(key);
    return join(this.root, ...key.split('/'));
  }

  localPath(key: string): string {
    return this.path(key);
  }

  signGrant(grant: UploadGrant): string {
    const payload = b64(JSON.stringify(grant));
    const mac = b64(createHmac('sha256', this.key).update(payload).digest());
    return `${payload}.${mac}`;
  }

  /** The grant of a token, or an UploadRejected (bad signature, expired). */
  verifyToken(token: string, now = Date.now()): UploadGrant {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) throw new UploadRejected(401, 'Malformed upload token');
    const expected = createHmac('sha256', this.key).update(payload).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UploadRejected(401, 'Invalid upload token signature');
    const grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as UploadGrant;
    if (grant.exp * 1000 < now) throw new UploadRejected(401, 'Upload token expired: ask for a new upload URL');
    assertSafeKey(grant.key);
    return grant;
  }

  async createUpload(req: UploadRequest): Promise<UploadTarget> {
    assertSafeKey(req.key);
    const expiresAt = new Date(Date.now() + req.expiresInSeconds * 1000);
    const contentType = bareMediaType(req.contentType);
    const token = this.signGrant({ key: req.key, contentType, max: req.size, exp: Math.floor(expiresAt.getTime() / 1000) });
    return { url: `${this.uploadPath}/${token}`, method: 'PUT', headers: { 'content-type': contentType }, expiresAt };
  }

  /**
   * Streams an upload body to disk under the token's key. The content type must be the
   * signed one (parameters such as `codecs` are ignored); more bytes than granted abort the
   * upload (413) and nothing is kept. Single-use: once the key holds an object, any further
   * PUT with the token is refused (409) and the stored bytes stay as they are.
   */
  async acceptUpload(token: string, body: Readable, headers: { contentType?: string; contentLength?: number }): Promise<{ key: string; size: number }> {
    const grant = this.verifyToken(token);
    const ct = bareMediaType(headers.contentType ?? '');
    const expected = bareMediaType(grant.contentType);
    if (ct !== expected) throw new UploadRejected(415, `Content-Type must be ${expected} (as declared for this upload), got "${ct || 'none'}"`);
    if (headers.contentLength !== undefined && headers.contentLength > grant.max) {
      throw new UploadRejected(413, `Upload is ${headers.contentLength} bytes but ${grant.max} were declared`);
    }
    const target = this.path(grant.key);
    const alreadyUploaded = () => new UploadRejected(409, 'This upload URL was already used: ask for a new upload URL (POST /api/uploads)');
    if (await exists(target)) throw alreadyUploaded();
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.part`;
    let size = 0;
    try {
      // Not stream.pipeline: on overflow the request must stay open so the client gets a 413,
      // so the rest of the body is drained instead of destroying the socket.
      await new Promise<void>((resolveWrite, reject) => {
        const out = createWriteStream(tmp);
        let failed = false;
        const fail = (err: Error) => {
          if (failed) return;
          failed = true;
          body.unpipe(out);
          out.destroy();
          body.resume();
          reject(err);
        };
        body.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > grant.max) fail(new UploadRejected(413, `Upload exceeds the ${grant.max} bytes declared for it`));
        });
        body.on('error', fail);
        body.on('aborted', () => fail(new UploadRejected(400, 'Upload aborted by the client')));
        out.on('error', fail);
        out.on('finish', () => {
          if (!failed) resolveWrite();
        });
        body.pipe(out);
      });
      if (size === 0) throw new UploadRejected(400, 'Empty upload');
      // Metadata first, then link(): atomic and fails if the key exists, so of two concurrent
      // PUTs exactly one wins and a stored object is never replaced.
      await writeFile(`${target}.meta.json`, JSON.stringify({ contentType: expected, size }));
      try {
        await link(tmp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyUploaded();
        throw err;
      }
      return { key: grant.key, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const p = this.path(key);
    try {
      const s = await stat(p);
      if (!s.isFile()) return null;
      let contentType: string | null = null;
      try {
        contentType = JSON.parse(await readFile(`${p}.meta.json`, 'utf8')).contentType ?? null;
      } catch {
        /* no metadata */
      }
      return { size: s.size, contentType };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * open, fstat, read, close: four file-system calls on one descriptor (stat + the metadata
   * file + open/read/close of a head and a read were eight), through fs's callback API, whose
   * calls cost the event loop less than FileHandle's (bench/api-latency.ts --profile: the
   * checks of an analysis start were a tenth of the API's CPU per start).
   */
  async peek(key: string, length: number): Promise<ObjectPeek | null> {
    let fd: number;
    try {
      fd = await fsOpen(this.path(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const s = await fsFstat(fd);
      if (!s.isFile()) return null;
      const prefix = Buffer.allocUnsafe(Math.min(length, s.size));
      const bytesRead = prefix.length ? await fsRead(fd, prefix, 0, prefix.length, 0) : 0;
      return { size: s.size, prefix: prefix.subarray(0, bytesRead) };
    } finally {
      await fsClose(fd);
    }
  }

  getObject(key: string): Promise<Buffer> {
    return readFile(this.path(key));
  }

  async putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.part`;
    if (Buffer.isBuffer(body)) await writeFile(tmp, body);
    else await pipeline(body, createWriteStream(tmp));
    await rename(tmp, target);
    await writeFile(`${target}.meta.json`, JSON.stringify({ contentType, size: (await stat(target)).size }));
  }

  async downloadToFile(key: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      await copyFile(this.path(key), tmp);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * A hard link when possible: the copy keeps the bytes it had even if the source were
   * replaced later (a replace is a rename, i.e. a new inode). Overwrites the target.
   */
  async copyObject(from: string, to: string): Promise<void> {
    const source = this.path(from);
    const target = this.path(to);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.part`;
    try {
      await link(source, tmp).catch(() => copyFile(source, tmp));
      await rename(tmp, target);
    } finally {
      await rm(tmp, { force: true });
    }
    await copyFile(`${source}.meta.json`, `${target}.meta.json`).catch(() => {});
  }

  async deletePrefix(prefix: string): Promise<number> {
    const dir = this.path(prefix.replace(/\/+$/, ''));
    let count = 0;
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      count = entries.filter((e) => e.isFile() && !e.name.endsWith('.meta.json')).length;
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return count;
  }

  /** Test helper: the raw stream of an object. */
  createReadStream(key: string): Readable {
    return createReadStream(this.path(key));
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch(() => {});
    await unlink(`${this.path(key)}.meta.json`).catch(() => {});
  }
}

