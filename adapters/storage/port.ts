import type { Readable } from 'node:stream';

/**
 * Object storage port. Keys are built by the domain (`orgs/<organizationId>/...`) and the
 * API only ever hands out keys under the caller's organization, so an adapter never has
 * to decide who may read what: it stores bytes by key.
 */
export interface UploadRequest {
  key: string;
  contentType: string;
  /** Exact size the client declared; the upload must not exceed it. */
  size: number;
  expiresInSeconds: number;
}

export interface UploadTarget {
  /** Absolute URL (S3) or a path on our own API (local driver: `/api/uploads/<token>`). */
  url: string;
  method: 'PUT';
  /** Headers the client must send with the PUT. */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface ObjectInfo {
  size: number;
  contentType: string | null;
}

/** What a content check needs of an object: its size and its first bytes. */
export interface ObjectPeek {
  size: number;
  /** The first bytes, at most the length asked (fewer when the object is shorter). */
  prefix: Buffer;
}

export interface StoragePort {
  readonly driver: 'local' | 's3';
  /** A URL the client PUTs the bytes to (presigned for S3, a signed token for local). */
  createUpload(req: UploadRequest): Promise<UploadTarget>;
  head(key: string): Promise<ObjectInfo | null>;
  /**
   * Size and first bytes (at most `length`) of an object in one call, null when there is
   * none: the existence, size and content checks of an upload read what is stored, never
   * what the client said, at the cost of one request (S3: a ranged GET whose Content-Range
   * carries the total size) instead of a HEAD and a GET.
   */
  peek(key: string, length: number): Promise<ObjectPeek | null>;
  getObject(key: string): Promise<Buffer>;
  putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void>;
  /**
   * Copies the object into a local file (ffmpeg needs a seekable file): written to a temp
   * file of its own and renamed into place, so concurrent attempts never interleave.
   */
  downloadToFile(key: string, path: string, opts?: { signal?: AbortSignal; onProgress?: (bytes: number) => void }): Promise<void>;
  /** Copies an object to another key inside the store (server-side with S3). */
  copyObject(from: string, to: string): Promise<void>;
  /** A local path to read the object directly, when the driver has one. */
  localPath?(key: string): string;
  deletePrefix(prefix: string): Promise<number>;
}

export class StorageKeyError extends Error {
  override name = 'StorageKeyError';
}

/** Keys are relative, slash-separated, without `..` or empty segments. */
export function assertSafeKey(key: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,400}$/.test(key) || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new StorageKeyError(`invalid storage key "${key}"`);
  }
}
