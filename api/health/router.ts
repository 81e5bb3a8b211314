import express, { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { paginated, routeBuilder } from '../http/route';
import { ATTACHMENT_TYPES, type CareItemKey } from '../../domain/health';
import { createHealthService } from './service';
import { createHealthAttachments } from './attachments';
import { createCalendarFeeds } from './calendar';
import {
  AttachmentParams,
  AttachmentView,
  AuditView,
  BulkRecordBody,
  CalendarFeedBody,
  CalendarFeedView,
  CreatedCalendarFeedView,
  CreatedShareLinkView,
  DueQuery,
  DueView,
  EligibilityQuery,
  EligibilityView,
  FeedFileParams,
  FeedParams,
  HealthBookView,
  HorseParams,
  PlanOverrideBody,
  PlanParams,
  CareItemView,
  RecordBody,
  RecordListQuery,
  RecordParams,
  RecordView,
  RecordsQuery,
  ShareLinkBody,
  ShareLinkParams,
  ShareLinkView,
  SharedAttachmentParams,
  SharedHealthBookView,
  TokenParams,
  UpdateRecordBody,
  UploadParams,
  UploadQuery,
} from './schemas';

const PlanView = z.object({ horse: z.object({ id: z.uuid(), name: z.string() }), items: z.array(CareItemView) }).openapi('HealthPlan');

/**
 * The health book (mounted at /api): records per horse, the care plan and what is due,
 * competition eligibility, attachments, share links and the calendar feed. Routes declare
 * and validate; the services (service.ts, attachments.ts, calendar.ts) do the work.
 */
export function createHealthRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api', tag: 'health', authenticate: ctx.authenticate });
  const health = createHealthService(deps);
  const attachments = createHealthAttachments(deps);
  const feeds = createCalendarFeeds(deps);

  // ----- records -----
  r.get(
    '/horses/:id/health',
    {
      summary: "A horse's health book: per care item last done, next due and status; the records (filter by kind, paginated)",
      params: HorseParams,
      query: RecordsQuery,
      response: HealthBookView,
      errors: [404],
    },
    ({ em, user, params, query }) => health.book(em, user, params.id, query),
  );
  r.get(
    '/horses/:id/health/records',
    { summary: "A horse's health records, newest first (kind filter, paginated; includeDeleted=true shows deleted ones)", params: HorseParams, query: RecordListQuery, response: paginated(RecordView), errors: [404] },
    ({ em, user, params, query }) => health.records(em, user, params.id, query),
  );
  r.post(
    '/horses/:id/health/records',
    {
      summary: 'Record care given to a horse',
      description: 'One of: vaccination, deworming, fecal_egg_count, farrier, dental, vet, test, document, each with its details. A dose cannot be in the future, nor a dose 2 before its dose 1. Wakes the horse\'s reminder workflow.',
      params: HorseParams,
      body: RecordBody,
      status: 201,
      response: RecordView,
      errors: [404],
    },
    ({ em, user, params, body }) => health.create(em, user, params.id, body),
  );
  r.get(
    '/horses/:id/health/records/:recordId',
    { summary: 'One record with its attachments and audit trail (who changed what, when)', params: RecordParams, response: RecordView.extend({ audit: z.array(AuditView) }), errors: [404] },
    ({ em, user, params }) => health.record(em, user, params.id, params.recordId),
  );
  r.patch(
    '/horses/:id/health/records/:recordId',
    { summary: 'Correct a record (date, details, notes); the change is kept in its audit trail', params: RecordParams, body: UpdateRecordBody, response: RecordView, errors: [404] },
    ({ em, user, params, body }) => health.update(em, user, params.id, params.recordId, body),
  );
  r.delete(
    '/horses/:id/health/records/:recordId',
    { summary: 'Delete a record (kept as deleted in the audit trail: a health record is evidence)', params: RecordParams, status: 204, errors: [404] },
    ({ em, user, params }) => health.remove(em, user, params.id, params.recordId),
  );
  r.post(
    '/health/records/bulk',
    {
      summary: 'Record the same care for several horses at once (the farrier shod six horses today)',
      description: 'All or nothing: any horse that is not yours answers 404 and nothing is written.',
      body: BulkRecordBody,
      status: 201,
      response: z.object({ batchId: z.uuid(), records: z.array(RecordView) }),
      errors: [404],
    },
    ({ em, user, body }) => health.bulk(em, user, body),
  );

  // ----- what is due, eligibility, plan -----
  r.get(
    '/health/due',
    { summary: "The morning view: every horse of my organizations with what is due within the window or overdue, soonest first", query: DueQuery, response: DueView, errors: [404] },
    ({ em, user, query }) => health.due(em, user, query),
  );
  r.get(
    '/horses/:id/health/competition-eligibility',
    {
      summary: 'May this horse compete on a date under FEI or BEF equine influenza rules?',
      description: 'Names every rule that fails and the date by which a booster is needed.',
      params: HorseParams,
      query: EligibilityQuery,
      response: EligibilityView,
      errors: [404],
    },
    ({ em, user, params, query }) => health.eligibility(em, user, params.id, query),
  );
  r.get('/horses/:id/health/plan', { summary: "A horse's care plan with its overrides", params: HorseParams, response: PlanView, errors: [404] }, ({ em, user, params }) => health.plan(em, user, params.id));
  r.put(
    '/horses/:id/health/plan/:key',
    { summary: 'Change one care item of the plan: switch it off, or set its interval (1 day to 5 years)', params: PlanParams, body: PlanOverrideBody, response: PlanView, errors: [404] },
    ({ em, user, params, body }) => health.setOverride(em, user, params.id, params.key as CareItemKey, body),
  );
  r.delete(
    '/horses/:id/health/plan/:key',
    { summary: 'Back to the default rule for one care item', params: PlanParams, response: PlanView, errors: [404] },
    ({ em, user, params }) => health.clearOverride(em, user, params.id, params.key as CareItemKey),
  );

  // ----- attachments -----
  r.post(
    '/health/attachments/records/:recordId',
    {
      summary: 'Attach a file to a record: the body is the file (JPEG, PNG, WebP or PDF)',
      description: `Content-Type must be the file's type (checked against its bytes); at most HEALTH_ATTACHMENT_MAX_BYTES (${deps.config.HEALTH_ATTACHMENT_MAX_BYTES} bytes). Optional ?filename=.`,
      params: UploadParams,
      query: UploadQuery,
      status: 201,
      response: AttachmentView,
      errors: [404, 413, 415],
      rawBody: { contentTypes: Object.keys(ATTACHMENT_TYPES), description: 'The file itself; its first bytes must match the Content-Type (else 422)' },
      // After authentication: a stranger's body is never read.
      middleware: [express.raw({ type: () => true, limit: deps.config.HEALTH_ATTACHMENT_MAX_BYTES })],
    },
    ({ em, user, params, query, req }) => attachments.upload(em, user, params.recordId, req.headers['content-type'], req.body, query.filename),
  );
  r.get('/health/attachments/:attachmentId', { summary: 'Download an attachment', params: AttachmentParams, errors: [404] }, ({ em, user, params, res }) =>
    attachments.download(em, user, params.attachmentId, res),
  );
  r.delete('/health/attachments/:attachmentId', { summary: 'Remove an attachment (kept in the audit trail)', params: AttachmentParams, status: 204, errors: [404] }, ({ em, user, params }) =>
    attachments.remove(em, user, params.attachmentId),
  );

  // ----- share links -----
  r.post(
    '/horses/:id/health/share-links',
    { summary: "A read-only link to this horse's health book (for a vet or a buyer), expiring after 1–90 days; the token is shown once", params: HorseParams, body: ShareLinkBody, status: 201, response: CreatedShareLinkView, errors: [404] },
    ({ em, user, params, body, req }) => health.createShareLink(em, user, req, params.id, body),
  );
  r.get('/horses/:id/health/share-links', { summary: "This horse's share links (without tokens)", params: HorseParams, response: z.object({ items: z.array(ShareLinkView) }), errors: [404] }, ({ em, user, params }) =>
    health.shareLinks(em, user, params.id),
  );
  r.delete('/horses/:id/health/share-links/:linkId', { summary: 'Revoke a share link', params: ShareLinkParams, status: 204, errors: [404] }, ({ em, user, params }) =>
    health.revokeShareLink(em, user, params.id, params.linkId),
  );
  r.get(
    '/health/shared/:token',
    { summary: "A shared horse's health book (no account needed; 404 once expired or revoked)", auth: false, params: TokenParams, response: SharedHealthBookView, errors: [404] },
    ({ em, params }) => health.sharedBook(em, params.token),
  );
  r.get('/health/shared/:token/attachments/:attachmentId', { summary: "An attachment of a shared horse's health book", auth: false, params: SharedAttachmentParams, errors: [404] }, async ({ em, params, res }) => {
    const link = await health.sharedLink(em, params.token);
    await attachments.sharedDownload(em, link.horse.id, params.attachmentId, res);
  });

  // ----- calendar feed -----
  r.post(
    '/health/calendar-feeds',
    { summary: "A secret iCalendar URL for an organization: due care, gestation milestones, listing expiries; the URL is shown once", body: CalendarFeedBody, status: 201, response: CreatedCalendarFeedView, errors: [404] },
    ({ em, user, body, req }) => feeds.create(em, user, req, body),
  );
  r.get('/health/calendar-feeds', { summary: 'The calendar feeds of my organizations (without tokens)', response: z.object({ items: z.array(CalendarFeedView) }) }, ({ em, user }) => feeds.list(em, user));
  r.delete('/health/calendar-feeds/:feedId', { summary: 'Revoke a calendar feed: its URL answers 404 from now on', params: FeedParams, status: 204, errors: [404] }, ({ em, user, params }) =>
    feeds.revoke(em, user, params.feedId),
  );
  r.get('/health/calendar/:file', { summary: 'The iCalendar feed (text/calendar; the address is the secret)', auth: false, params: FeedFileParams, errors: [404] }, async ({ em, params, res }) => {
    const text = await feeds.render(em, params.file.slice(0, -'.ics'.length));
    res.status(200).type('text/calendar; charset=utf-8').setHeader('cache-control', 'private, max-age=300');
    res.send(text);
  });

  return router;
}
