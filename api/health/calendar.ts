import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request } from 'express';
import ical, { ICalCalendarMethod } from 'ical-generator';
import { CalendarFeed, Gestation, HealthPlanOverride, HealthRecord, Horse, Listing, Organization, dateColumn } from '../../entities';
import type { AppDeps } from '../deps';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { assertMember, memberOrgIds, targetOrganization } from '../organizations/access';
import { ACTIVE_GESTATION_STATUSES, gestationMilestones, planAnchor } from '../../domain/gestation';
import { absoluteUrl, hashToken, newToken, planOf } from './service';

const day = (iso: string) => new Date(`${iso}T00:00:00.000Z`);
const HOST = 'horse-tempo';

export function calendarFeedView(f: CalendarFeed) {
  return { id: f.id, organizationId: f.organization.id, label: f.label ?? null, revokedAt: f.revokedAt ?? null, createdAt: f.createdAt, lastUsedAt: f.lastUsedAt ?? null };
}

/**
 * The iCalendar (RFC 5545) feed of an organization at a secret URL: what is due in the
 * health book (next due date of every enabled care item, overdue ones on their date),
 * gestation milestones of tracked mares, and the expiry of active listings. Calendar apps
 * poll it; revoking the feed makes the URL answer 404. Only the token's hash is stored, so
 * the URL is shown once, at creation.
 */
export function createCalendarFeeds(deps: AppDeps) {
  return {
    async create(em: EntityManager, user: AuthUser, req: Request, body: { organizationId?: string; label?: string | null }) {
      const organizationId = targetOrganization(user, body.organizationId);
      const token = newToken();
      const feed = em.create(CalendarFeed, { organization: em.getReference(Organization, organizationId), tokenHash: hashToken(token), label: body.label ?? null, createdById: user.id });
      await em.flush();
      return { ...calendarFeedView(feed), token, url: absoluteUrl(deps, req, `/api/health/calendar/${token}.ics`) };
    },

    async list(em: EntityManager, user: AuthUser) {
      const feeds = await em.find(CalendarFeed, { organization: { $in: memberOrgIds(user) } }, { orderBy: { createdAt: 'desc' } });
      return { items: feeds.map(calendarFeedView) };
    },

    async revoke(em: EntityManager, user: AuthUser, feedId: string) {
      const feed = await em.findOne(CalendarFeed, { id: feedId });
      if (!feed) throw new HttpError(404, `Calendar feed ${feedId} not found`);
      assertMember(user, feed.organization.id, 'Calendar feed');
      feed.revokedAt ??= new Date();
      await em.flush();
    },

    /** The feed's text; 404 for an unknown or revoked token (the same answer: a token reveals nothing). */
    async render(em: EntityManager, token: string): Promise<string> {
      const feed = await em.findOne(CalendarFeed, { tokenHash: hashToken(token), revokedAt: null }, { populate: ['organization'] });
      if (!feed) throw new HttpError(404, 'Calendar feed not found or revoked');
      feed.lastUsedAt = new Date();
      await em.flush();
      const org = feed.organization;
      const cal = ical({ name: `Horse Tempo — ${org.name}`, prodId: { company: 'Horse Tempo', product: 'health-book', language: 'EN' }, method: ICalCalendarMethod.PUBLISH, ttl: 3600 });

      // Health book: the next due date of each enabled care item of each horse.
      const horses = await em.find(Horse, { organization: org.id });
      const ids = horses.map((h) => h.id);
      const [records, overrides] = ids.length
        ? await Promise.all([em.find(HealthRecord, { horse: { $in: ids }, deletedAt: null }), em.find(HealthPlanOverride, { horse: { $in: ids } })])
        : [[], []];
      for (const horse of horses) {
        const plan = planOf(
          horse,
          records.filter((r) => r.horse.id === horse.id),
          overrides.filter((o) => o.horse.id === horse.id),
        );
        for (const item of plan) {
          if (!item.enabled || !item.nextDue) continue;
          cal.createEvent({
            id: `health-${horse.id}-${item.key.replace(':', '-')}-${item.nextDue}@${HOST}`,
            start: day(item.nextDue),
            allDay: true,
            summary: `${horse.name}: ${item.title}${item.status === 'overdue' ? ' (overdue)' : ''}`,
            description: `${item.title} — ${item.rule}. Last done: ${item.lastDone ?? 'never'}.`,
            categories: [{ name: 'health' }],
          });
        }
      }

      // Gestation milestones of the mares being tracked.
      const gestations = await em.find(Gestation, { organization: org.id, status: { $in: [...ACTIVE_GESTATION_STATUSES] } }, { populate: ['mare'] });
      for (const g of gestations) {
        const milestones = gestationMilestones({
          ...planAnchor(g.coverDates, g.ovulationDate ? dateColumn(g.ovulationDate) : null),
          leadDays: 0,
          options: g.options,
          previousGestationDays: g.previousGestationDays,
        });
        for (const m of milestones) {
          cal.createEvent({
            id: `gestation-${g.id}-${m.id}@${HOST}`,
            start: day(m.dueDate),
            allDay: true,
            summary: `${g.mare.name}: ${m.title}`,
            description: m.description,
            categories: [{ name: 'gestation' }],
          });
        }
      }

      // When each active listing expires.
      const listings = await em.find(Listing, { organization: org.id, status: 'active', expiresAt: { $ne: null } });
      for (const l of listings) {
        cal.createEvent({
          id: `listing-${l.id}-${l.expiresAt!.toISOString()}@${HOST}`,
          start: l.expiresAt!,
          end: new Date(l.expiresAt!.getTime() + 30 * 60_000),
          summary: `Listing expires: ${l.title}`,
          description: 'Renew it in Horse Tempo to keep it in search.',
          categories: [{ name: 'marketplace' }],
        });
      }
      return cal.toString();
    },
  };
}
