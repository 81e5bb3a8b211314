/**
 * Marketplace listing rules, pure: the API, the activities and the listingLifecycle
 * workflow all read them. No I/O (safe inside workflow code).
 */
import { DomainError, ErrorType } from './errors';
import { entitlementsOf, type Plan } from './plans';
import { DAY_MS, addDays, isoDate } from './time';
import type { MessageText } from './messages';

export const LISTING_TYPES = ['sale', 'rental', 'stud', 'breeding', 'service'] as const;
export type ListingType = (typeof LISTING_TYPES)[number];

export const LISTING_STATUSES = ['draft', 'active', 'sold', 'expired', 'withdrawn'] as const;
export type ListingStatus = (typeof LISTING_STATUSES)[number];

/** ISO 4217 currencies a listing may be priced in. */
export const CURRENCIES = ['EUR', 'GBP', 'CHF', 'USD', 'SEK', 'DKK', 'NOK', 'PLN', 'CAD', 'AUD'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** Prices are integer minor units (cents); the ceiling keeps them inside a Postgres integer. */
export const MAX_PRICE_CENTS = 2_000_000_000;

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && (CURRENCIES as readonly string[]).includes(value);
}

/**
 * The 249 officially assigned ISO 3166-1 alpha-2 codes. An explicit list, not the
 * runtime's region names: Intl also names EU, UN, ZZ, QO, XA, XK, UK, SU… which are
 * not countries a listing can be in.
 */
export const COUNTRY_CODES: ReadonlySet<string> = new Set([
  'AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ',
  'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS',
  'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN',
  'CO', 'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ', 'EC', 'EE',
  'EG', 'EH', 'ER', 'ES', 'ET', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF',
  'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW', 'GY', 'HK', 'HM',
  'HN', 'HR', 'HT', 'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM',
  'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC',
  'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF', 'MG', 'MH', 'MK',
  'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA',
  'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG',
  'PH', 'PK', 'PL', 'PM', 'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW',
  'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS',
  'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ', 'TK', 'TL', 'TM', 'TN', 'TO',
  'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI',
  'VN', 'VU', 'WF', 'WS', 'YE', 'YT', 'ZA', 'ZM', 'ZW',
]);

/** An officially assigned ISO 3166-1 alpha-2 code (e.g. FR, DE, GB; not EU, UK, ZZ). */
export function isCountryCode(value: unknown): value is string {
  return typeof value === 'string' && COUNTRY_CODES.has(value);
}

/** What an owner can do to a listing. */
export const LISTING_ACTIONS = ['publish', 'renew', 'sold', 'withdraw', 'edit', 'delete'] as const;
export type ListingAction = (typeof LISTING_ACTIONS)[number];

/**
 * The state machine. draft → active (publish); active → active (renew moves the expiry);
 * expired → active (renew republishes); active|expired → sold | withdrawn; sold and
 * withdrawn are final. Only a draft can be deleted; edits are allowed until the listing
 * is sold or withdrawn. A listing becomes `expired` only through the workflow (no action).
 */
const ALLOWED_FROM: Record<ListingAction, readonly ListingStatus[]> = {
  publish: ['draft'],
  renew: ['active', 'expired'],
  sold: ['active', 'expired'],
  withdraw: ['active', 'expired'],
  edit: ['draft', 'active', 'expired'],
  delete: ['draft'],
};

const RESULT: Record<Exclude<ListingAction, 'edit' | 'delete'>, ListingStatus> = {
  publish: 'active',
  renew: 'active',
  sold: 'sold',
  withdraw: 'withdrawn',
};

export function canApply(status: ListingStatus, action: ListingAction): boolean {
  return ALLOWED_FROM[action].includes(status);
}

const HINT: Partial<Record<ListingStatus, Partial<Record<ListingAction, string>>>> = {
  active: { publish: 'it is already published; renew it to move its expiry', delete: 'withdraw it instead' },
  expired: { publish: 'renew it to publish it again', delete: 'withdraw it instead' },
  draft: { renew: 'publish it first', sold: 'publish it first or delete the draft', withdraw: 'delete the draft instead' },
  sold: { renew: 'a sold listing is final; create a new listing' },
  withdrawn: { renew: 'a withdrawn listing is final; create a new listing' },
};

/** Throws InvalidTransition (HTTP 409) naming the current status and the allowed ones. */
export function assertCanApply(status: ListingStatus, action: ListingAction): void {
  if (canApply(status, action)) return;
  const hint = HINT[status]?.[action];
  throw new DomainError(
    ErrorType.InvalidTransition,
    `Cannot ${action} a listing that is ${status}${hint ? `: ${hint}` : ''} (allowed from: ${ALLOWED_FROM[action].join(', ')})`,
    { status, action, allowedFrom: ALLOWED_FROM[action] },
  );
}

/**
 * The live-listing rule: a listing is in search, can be viewed publicly, favourited, and
 * holds one of its owner's plan slots while it is active AND not past its expiry. The
 * workflow (or the marketplace-reconcile sweep) marks it `expired` a little later, so the
 * status alone is not enough. The SQL form is `liveListingSql` in entities/marketplace.ts.
 */
export function isLive(listing: { status: ListingStatus; expiresAt?: Date | null }, now: Date): boolean {
  return listing.status === 'active' && !!listing.expiresAt && listing.expiresAt > now;
}

/** The status the rules act on: an `active` listing past its expiry is already expired (its workflow has not caught up). */
export function effectiveStatus(listing: { status: ListingStatus; expiresAt?: Date | null }, now: Date): ListingStatus {
  return listing.status === 'active' && listing.expiresAt && listing.expiresAt <= now ? 'expired' : listing.status;
}

/** The status an action leads to (after assertCanApply). */
export function statusAfter(status: ListingStatus, action: ListingAction): ListingStatus {
  assertCanApply(status, action);
  return action === 'edit' || action === 'delete' ? status : RESULT[action];
}

/**
 * Whether an action makes the listing count against the plan's active-listing limit:
 * publishing, and renewing an expired listing (it becomes active again). Renewing an
 * active listing does not add one.
 */
export function needsActiveSlot(status: ListingStatus, action: ListingAction): boolean {
  return action === 'publish' || (action === 'renew' && status === 'expired');
}

/** Throws PlanLimitReached (HTTP 402) when the owner already has as many active listings as the plan allows. */
export function assertActiveLimit(plan: Plan, activeCount: number): void {
  const limit = entitlementsOf(plan).maxActiveListings;
  if (activeCount < limit) return;
  throw new DomainError(
    ErrorType.PlanLimitReached,
    `Your ${plan} plan allows ${limit} active listing${limit === 1 ? '' : 's'} and you have ${activeCount}: ` +
      'withdraw or mark one as sold, or upgrade your plan',
    { plan, limit, active: activeCount },
  );
}

export interface Publication {
  publishedAt: Date;
  expiresAt: Date;
}

/** A listing published (or republished after expiry) now stays active for the plan's duration. */
export function publicationDates(now: Date, plan: Plan): Publication {
  return { publishedAt: now, expiresAt: addDays(now, entitlementsOf(plan).listingDurationDays) };
}

/**
 * Renewal: the expiry moves to now + the plan's duration (from now, not from the old
 * expiry, so renewals cannot be stacked; never earlier than the current expiry). Renewing an expired listing republishes it
 * (publishedAt = now, a new publication); renewing an active one keeps publishedAt.
 */
export function renewalDates(
  current: { status: ListingStatus; publishedAt: Date | null; expiresAt?: Date | null },
  now: Date,
  plan: Plan,
): Publication & { republished: boolean } {
  assertCanApply(current.status, 'renew');
  const republished = current.status === 'expired' || !current.publishedAt;
  const fromNow = addDays(now, entitlementsOf(plan).listingDurationDays);
  // A renewal never shortens an active listing (e.g. after a downgrade to a shorter plan).
  const keep = !republished && current.expiresAt && current.expiresAt > fromNow ? current.expiresAt : null;
  return { publishedAt: republished ? now : current.publishedAt!, expiresAt: keep ?? fromNow, republished };
}

/**
 * A reminder due less than this after the expiry was set (publish or renewal) is not
 * sent: with LISTING_REMINDER_DAYS >= the plan's duration it would go out at publish.
 */
export const REMINDER_MIN_NOTICE_MS = 60 * 60 * 1000;

/**
 * When the "expiring soon" reminder is due; null when the lead is 0 (no reminder) or,
 * given when the expiry was set (`since`: publish or renewal time), when the reminder
 * would fall at (or within REMINDER_MIN_NOTICE_MS of) that moment or before it.
 */
export function reminderDate(expiresAt: Date, leadDays: number, since?: Date): Date | null {
  if (!(leadDays > 0)) return null;
  const at = new Date(expiresAt.getTime() - leadDays * DAY_MS);
  if (since && at.getTime() <= since.getTime() + REMINDER_MIN_NOTICE_MS) return null;
  return at;
}

/** Whole days left until expiry, rounded up (a reminder 3 days ahead says 3). */
export function daysLeft(now: Date, expiresAt: Date): number {
  return Math.max(0, Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS));
}

/** Idempotency keys of the lifecycle notices: one reminder per expiry date, one expiry notice per publication. */
export const listingReminderKey = (listingId: string, publication: number, expiresAt: Date) =>
  `listing-reminder:${listingId}:${publication}:${expiresAt.toISOString()}`;
export const listingExpiredKey = (listingId: string, publication: number) => `listing-expired:${listingId}:${publication}`;

export function listingReminderMessage(firstName: string, title: string, expiresAt: Date, days: number): MessageText {
  return {
    subject: `Your listing "${title}" expires in ${days} day${days === 1 ? '' : 's'}`,
    text:
      `Hello ${firstName},\n\n` +
      `Your marketplace listing "${title}" expires on ${isoDate(expiresAt)}. ` +
      'Renew it in one click from "My listings" to keep it visible in search.\n\n— The Horse Tempo team',
  };
}

export function listingExpiredMessage(firstName: string, title: string): MessageText {
  return {
    subject: `Your listing "${title}" has expired`,
    text:
      `Hello ${firstName},\n\n` +
      `Your marketplace listing "${title}" has expired and no longer appears in search. ` +
      'Renew it from "My listings" to publish it again.\n\n— The Horse Tempo team',
  };
}

/** Whole years of age on a date, from a YYYY-MM-DD birth date. */
export function ageInYears(birthDate: string, on: Date): number {
  const [y, m, d] = birthDate.split('-').map(Number);
  const today = isoDate(on);
  const [ty, tm, td] = today.split('-').map(Number);
  return ty - y - (tm < m || (tm === m && td < d) ? 1 : 0);
}

/**
 * The birth-date range of horses aged between minAge and maxAge whole years on `on`:
 * age >= minAge ⇔ born on or before on - minAge years; age <= maxAge ⇔ born after on - (maxAge + 1) years.
 */
export function birthDateRange(on: Date, minAge?: number, maxAge?: number): { bornOnOrBefore?: string; bornAfter?: string } {
  const shift = (years: number) => {
    const year = on.getUTCFullYear() - years;
    const d = new Date(Date.UTC(year, on.getUTCMonth(), on.getUTCDate()));
    // 29 February in a non-leap year: the last day of February.
    return isoDate(d.getUTCMonth() === on.getUTCMonth() ? d : new Date(Date.UTC(year, on.getUTCMonth() + 1, 0)));
  };
  return {
    ...(minAge !== undefined ? { bornOnOrBefore: shift(minAge) } : {}),
    ...(maxAge !== undefined ? { bornAfter: shift(maxAge + 1) } : {}),
  };
}
