import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder } from '../http/route';
import { text } from '../http/input-policy';
import { HttpError } from '../http/errors';
import { targetOrganization } from '../organizations/access';
import { LocalStorage, UploadRejected } from '../../adapters/storage/local';
import { StorageKeyError } from '../../adapters/storage/port';
import { VIDEO_CONTENT_TYPES, bareMediaType, isVideoContentType, videoKey } from '../../domain/analysis';

const mb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;

export const CreateUploadBody = z.strictObject({
  contentType: z
    .string()
    .max(100)
    .refine(isVideoContentType, { message: `must be a video content type (${VIDEO_CONTENT_TYPES.join(', ')})` })
    // isVideoContentType ignores parameters (codecs=…) and case; the document states the bare types.
    .openapi({ enum: [...VIDEO_CONTENT_TYPES] }),
  size: z.number().int().positive({ message: 'must be the exact size in bytes (> 0)' }),
  filename: text({ max: 255 }).optional(),
  organizationId: z.uuid().optional(),
});

const UploadTargetView = z
  .object({
    videoKey: z.string(),
    uploadUrl: z.string(),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()),
    expiresAt: z.date(),
    maxBytes: z.number().int(),
  })
  .openapi('UploadTarget');

/** Absolute URL for a path on this API (local driver), honouring PUBLIC_URL. */
function absolute(deps: AppDeps, req: Request, url: string): string {
  if (/^https?:\/\//.test(url)) return url;
  const base = deps.config.PUBLIC_URL ?? `${req.protocol}://${req.get('host')}`;
  return new URL(url, base).toString();
}

/**
 * Video uploads: the client asks for an upload URL (key scoped to its organization), then
 * PUTs the bytes there — to S3 directly (presigned) or, with the local driver, to
 * `PUT /api/uploads/:token` below. Then it passes the videoKey to POST /api/analyses.
 */
export function createUploadsRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/uploads', tag: 'uploads', authenticate: ctx.authenticate });
  const max = deps.config.UPLOAD_MAX_BYTES;

  r.post(
    '/',
    {
      summary: `Get an upload URL for a video (at most ${mb(max)})`,
      description: 'The URL is single-use: once the bytes are stored, another PUT to it is refused (409 locally, 412 from S3). Send exactly the returned headers.',
      // The document states this deployment's limit; a larger declared size is still a 413.
      body: CreateUploadBody.extend({ size: CreateUploadBody.shape.size.openapi({ maximum: max }) }),
      status: 201,
      response: UploadTargetView,
      errors: [404, 413],
    },
    async ({ body, user, req }) => {
      if (body.size > max) {
        throw new HttpError(413, `The video is ${mb(body.size)}; the limit is ${mb(max)}`, [{ location: 'body', field: 'size', message: `must be at most ${max} bytes` }]);
      }
      const organizationId = targetOrganization(user, body.organizationId);
      // Signed and checked as the bare media type: `video/mp4; codecs="avc1"` uploads as `video/mp4`.
      const contentType = bareMediaType(body.contentType);
      const key = videoKey(organizationId, randomUUID(), contentType);
      const target = await deps.storage.createUpload({ key, contentType, size: body.size, expiresInSeconds: deps.config.UPLOAD_URL_TTL_SECONDS });
      return { videoKey: key, uploadUrl: absolute(deps, req, target.url), method: target.method, headers: target.headers, expiresAt: target.expiresAt, maxBytes: body.size };
    },
  );

  r.put(
    '/:token',
    {
      summary: 'Upload the video bytes (local storage driver; the URL comes from POST /api/uploads)',
      description:
        'The body is the raw video with the Content-Type declared when the URL was issued (parameters such as codecs are ignored). ' +
        'The token in the URL is the authorization, for one key only, and is single-use: a second PUT answers 409.',
      auth: false,
      // base64url payload '.' base64url MAC: anything else cannot be a token (and a long
      // percent-encoded path would exceed Node's header limit: 431 before we see it).
      params: z.object({ token: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'is not an upload token').min(10).max(2000) }),
      response: z.object({ videoKey: z.string(), size: z.number().int() }),
      errors: [401, 404, 409, 413, 415],
      rawBody: { contentTypes: VIDEO_CONTENT_TYPES, description: 'The video, with the Content-Type declared when the URL was issued' },
    },
    async ({ params, req, res }) => {
      if (!(deps.storage instanceof LocalStorage)) throw new HttpError(404, 'Uploads go to object storage directly (presigned URL) with this configuration');
      const length = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
      try {
        const stored = await deps.storage.acceptUpload(params.token, req, { contentType: req.headers['content-type'], contentLength: length });
        return { videoKey: stored.key, size: stored.size };
      } catch (err) {
        if (err instanceof UploadRejected) {
          // The rest of a refused body is not worth reading: answer, then close the connection.
          res.setHeader('connection', 'close');
          throw new HttpError(err.status, err.message);
        }
        if (err instanceof StorageKeyError || err instanceof SyntaxError) throw new HttpError(401, 'Invalid upload token');
        throw err;
      }
    },
  );

  return router;
}
