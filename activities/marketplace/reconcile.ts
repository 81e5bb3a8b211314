import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MikroORM } from '../../entities/orm';
import type { Config } from '../../config';
import type { Logger } from '../../adapters/logger';
import { liveListingSql } from '../../entities/marketplace';
import { describeListingWorkflow, startListingLifecycle } from '../../workflows/marketplace/client';

export interface ExpireOverdueInput {
  /** Leave the lifecycle workflow this long past expires_at to do it itself first. */
  graceMinutes: number;
  limit: number;
}

export interface StartMissingInput {
  /** Rows changed more recently are left to the API's own start (it runs right after its commit). */
  olderThanMinutes: number;
  /** Only rows published or renewed within this window: that is when an orphan is made. */
  withinDays: number;
  limit: number;
}

export interface StartMissingReport {
  checked: number;
  /** Listings whose lifecycle workflow was missing (never started, or closed) and was started. */
  started: string[];
}

interface OverdueRow {
  id: string;
  publication: number;
}

/** A listing the sweep expired: ids only (the notice activity reads the rest itself). */
export interface ExpiredListing {
  listingId: string;
  publication: number;
}

/**
 * Expires `active` listings whose expiry has passed (by more than the grace): the safety
 * net for listings whose lifecycle workflow never started or died. The same conditional
 * update as the workflow's expireListing (status active and expires_at passed, rows locked
 * one by one, SKIP LOCKED so an owner's renewal in flight wins), so running it twice — or
 * racing the workflow — changes nothing twice. Returns the listings it expired (ids and
 * publication: the best-effort notice reads title and recipients itself).
 */
export async function expireOverdue(deps: { orm: MikroORM }, input: ExpireOverdueInput): Promise<ExpiredListing[]> {
  const conn = deps.orm.em.fork().getConnection();
  const rows = (await conn.execute(
    `with due as (
       select id from listings
        where status = 'active' and expires_at <= now() - make_interval(mins => ?)
        order by expires_at
        limit ?
        for update skip locked
     ), expired as (
       update listings l set status = 'expired', updated_at = now()
         from due where l.id = due.id and l.status = 'active'
       returning l.id, l.publication, l.expires_at
     )
     select e.id, e.publication from expired e order by e.expires_at, e.id`,
    [input.graceMinutes, input.limit],
  )) as OverdueRow[];
  return rows.map((r) => ({ listingId: r.id, publication: r.publication }));
}

interface ActiveRow {
  id: string;
  owner_id: string;
  horse_id: string | null;
  publication: number;
  published_at: Date | string | null;
  expires_at: Date | string;
}

/**
 * Starts the lifecycle workflow of active, unexpired listings that have none: the API
 * commits the publish and then starts the workflow, so Temporal being down in between (and
 * the client not repeating the call) leaves a listing with no reminder and no expiry timer.
 * Describe → not found or closed → start with the API's helper (USE_EXISTING, so a race
 * with the API or another reconcile starts nothing twice).
 */
export async function startMissing(deps: { orm: MikroORM; client: Client; config: Pick<Config, 'LISTING_REMINDER_DAYS'>; logger?: Logger }, input: StartMissingInput): Promise<StartMissingReport> {
  const conn = deps.orm.em.fork().getConnection();
  const rows = (await conn.execute(
    `select id, owner_id, horse_id, publication, published_at, expires_at from listings
      where ${liveListingSql()}
        and updated_at <= now() - make_interval(mins => ?)
        and updated_at > now() - make_interval(days => ?)
      order by updated_at
      limit ?`,
    [input.olderThanMinutes, input.withinDays, input.limit],
  )) as ActiveRow[];
  const report: StartMissingReport = { checked: rows.length, started: [] };
  for (const row of rows) {
    try {
      const d = await describeListingWorkflow(deps.client, row.id);
      if (d.status.name === 'RUNNING') continue;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    await startListingLifecycle(
      deps.client,
      { id: row.id, ownerId: row.owner_id, horseId: row.horse_id, publication: row.publication, expiresAt: new Date(row.expires_at) },
      { reminderDays: deps.config.LISTING_REMINDER_DAYS, expirySetAt: row.published_at ? new Date(row.published_at) : null },
    );
    report.started.push(row.id);
    deps.logger?.warn({ listingId: row.id }, 'marketplace reconcile: started the missing lifecycle workflow of an active listing');
  }
  return report;
}

/** The activities of the `marketplace-reconcile` Schedule's workflow (marketplaceReconcile). */
export function createMarketplaceReconcileActivities(deps: { orm: MikroORM; config: Config; logger: Logger }) {
  return {
    async expireOverdueListings(input: ExpireOverdueInput): Promise<ExpiredListing[]> {
      const expired = await expireOverdue(deps, input);
      if (expired.length) deps.logger.warn({ listingIds: expired.map((n) => n.listingId) }, 'marketplace reconcile: expired overdue active listings');
      return expired;
    },
    async startMissingListingWorkflows(input: StartMissingInput): Promise<StartMissingReport> {
      return startMissing({ orm: deps.orm, client: Context.current().client, config: deps.config, logger: deps.logger }, input);
    },
  };
}
export type MarketplaceReconcileActivities = ReturnType<typeof createMarketplaceReconcileActivities>;
