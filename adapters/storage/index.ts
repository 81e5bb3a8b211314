import type { Config } from '../../config';
import { LocalStorage } from './local';
import { S3Storage } from './s3';
import type { StoragePort } from './port';

export * from './port';
export { LocalStorage, UploadRejected } from './local';
export { S3Storage } from './s3';

/** The storage adapter the configuration asks for (local folder by default). */
export function createStorage(config: Pick<Config, 'STORAGE_DRIVER' | 'STORAGE_DIR' | 'JWT_SECRET' | 'S3_BUCKET' | 'S3_REGION' | 'S3_ENDPOINT' | 'S3_PUBLIC_ENDPOINT' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE'> & Partial<Pick<Config, 'S3_REQUEST_TIMEOUT_SECONDS'>>): StoragePort {
  if (config.STORAGE_DRIVER === 's3') {
    return new S3Storage({
      bucket: config.S3_BUCKET!,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      publicEndpoint: config.S3_PUBLIC_ENDPOINT,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      requestTimeoutMs: config.S3_REQUEST_TIMEOUT_SECONDS ? config.S3_REQUEST_TIMEOUT_SECONDS * 1000 : undefined,
    });
  }
  return new LocalStorage({ dir: config.STORAGE_DIR, secret: config.JWT_SECRET });
}
