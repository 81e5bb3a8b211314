import { expect } from 'chai';
import {
  assertActiveLimit,
  assertCanApply,
  ageInYears,
  birthDateRange,
  canApply,
  daysLeft,
  isCountryCode,
  isCurrency,
  listingExpiredKey,
  listingReminderKey,
  listingReminderMessage,
  needsActiveSlot,
  publicationDates,
  reminderDate,
  renewalDates,
  statusAfter,
  LISTING_STATUSES,
} from '../../domain/listings';
import { DomainError, ErrorType } from '../../domain/errors';

const catchError = (fn: () => unknown): DomainError => {
  try {
    fn();
  } catch (err) {
    return err as DomainError;
  }
  throw new Error('expected an error');
};

describe('listing rules (domain/listings)', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');

  describe('status transitions', () => {
    it('publishes only drafts, into active', () => {
      expect(statusAfter('draft', 'publish')).to.equal('active');
      for (const s of LISTING_STATUSES.filter((s) => s !== 'draft')) expect(canApply(s, 'publish'), s).to.equal(false);
    });

    it('renews active and expired listings into active, never sold, withdrawn or draft ones', () => {
      expect(statusAfter('active', 'renew')).to.equal('active');
      expect(statusAfter('expired', 'renew')).to.equal('active');
      for (const s of ['sold', 'withdrawn', 'draft'] as const) {
        const err = catchError(() => assertCanApply(s, 'renew'));
        expect(err).to.be.instanceOf(DomainError);
        expect(err.type).to.equal(ErrorType.InvalidTransition);
        expect(err.message).to.contain(`is ${s}`);
      }
    });

    it('says why a sold listing cannot be renewed', () => {
      expect(catchError(() => assertCanApply('sold', 'renew')).message).to.match(/sold listing is final/);
    });

    it('marks active or expired listings sold or withdrawn; both are final', () => {
      expect(statusAfter('active', 'sold')).to.equal('sold');
      expect(statusAfter('expired', 'withdraw')).to.equal('withdrawn');
      for (const action of ['publish', 'renew', 'sold', 'withdraw', 'edit', 'delete'] as const) {
        expect(canApply('sold', action), action).to.equal(false);
        expect(canApply('withdrawn', action), action).to.equal(false);
      }
    });

    it('deletes only drafts and edits until the listing is sold or withdrawn', () => {
      expect(canApply('draft', 'delete')).to.equal(true);
      expect(canApply('active', 'delete')).to.equal(false);
      expect(canApply('active', 'edit')).to.equal(true);
      expect(canApply('expired', 'edit')).to.equal(true);
    });

    it('needs a free active slot to publish or to renew an expired listing, not to renew an active one', () => {
      expect(needsActiveSlot('draft', 'publish')).to.equal(true);
      expect(needsActiveSlot('expired', 'renew')).to.equal(true);
      expect(needsActiveSlot('active', 'renew')).to.equal(false);
      expect(needsActiveSlot('active', 'sold')).to.equal(false);
    });
  });

  describe('plan limits and dates', () => {
    it('lets a free user have one active listing and says so with PlanLimitReached', () => {
      expect(() => assertActiveLimit('free', 0)).to.not.throw();
      const err = catchError(() => assertActiveLimit('free', 1));
      expect(err.type).to.equal(ErrorType.PlanLimitReached);
      expect(err.details).to.deep.equal({ plan: 'free', limit: 1, active: 1 });
      expect(err.message).to.match(/free plan allows 1 active listing/);
      expect(() => assertActiveLimit('premium', 9)).to.not.throw();
      expect(() => assertActiveLimit('premium', 10)).to.throw(DomainError);
      expect(() => assertActiveLimit('pro', 99)).to.not.throw();
    });

    it('publishes for the plan duration: free 30 days, premium 60, pro 120', () => {
      expect(publicationDates(now, 'free').expiresAt.toISOString()).to.equal('2026-04-09T12:00:00.000Z');
      expect(publicationDates(now, 'premium').expiresAt.toISOString()).to.equal('2026-05-09T12:00:00.000Z');
      expect(publicationDates(now, 'pro').expiresAt.toISOString()).to.equal('2026-07-08T12:00:00.000Z');
      expect(publicationDates(now, 'free').publishedAt).to.equal(now);
    });

    it('renews from now (not stacked on the old expiry) and keeps publishedAt of an active listing', () => {
      const publishedAt = new Date('2026-02-20T00:00:00.000Z');
      const r = renewalDates({ status: 'active', publishedAt }, now, 'free');
      expect(r).to.deep.equal({ publishedAt, expiresAt: new Date('2026-04-09T12:00:00.000Z'), republished: false });
    });

    it('never shortens an active listing on renewal (a premium listing renewed after a downgrade to free)', () => {
      const expiresAt = new Date('2026-05-01T00:00:00.000Z');
      const r = renewalDates({ status: 'active', publishedAt: now, expiresAt }, now, 'free');
      expect(r.expiresAt).to.equal(expiresAt);
    });

    it('republishes an expired listing: publishedAt becomes now', () => {
      const r = renewalDates({ status: 'expired', publishedAt: new Date('2026-01-01T00:00:00Z') }, now, 'premium');
      expect(r.republished).to.equal(true);
      expect(r.publishedAt).to.equal(now);
      expect(r.expiresAt.toISOString()).to.equal('2026-05-09T12:00:00.000Z');
    });

    it('refuses to compute a renewal of a sold listing', () => {
      expect(catchError(() => renewalDates({ status: 'sold', publishedAt: now }, now, 'free')).type).to.equal(ErrorType.InvalidTransition);
    });

    it('reminds lead days before expiry, and not at all with a lead of 0', () => {
      const expiresAt = new Date('2026-04-09T12:00:00.000Z');
      expect(reminderDate(expiresAt, 3)!.toISOString()).to.equal('2026-04-06T12:00:00.000Z');
      expect(reminderDate(expiresAt, 0)).to.equal(null);
      expect(daysLeft(new Date('2026-04-06T12:00:00.000Z'), expiresAt)).to.equal(3);
      expect(daysLeft(new Date('2026-04-06T13:00:00.000Z'), expiresAt)).to.equal(3);
      expect(daysLeft(new Date('2026-04-10T00:00:00.000Z'), expiresAt)).to.equal(0);
    });

    it('sends no reminder that would fall at or right after publish (lead >= the listing duration)', () => {
      const publishedAt = new Date('2026-03-10T12:00:00.000Z');
      const expiresAt = new Date('2026-04-09T12:00:00.000Z'); // 30 days
      expect(reminderDate(expiresAt, 30, publishedAt)).to.equal(null);
      expect(reminderDate(expiresAt, 45, publishedAt)).to.equal(null);
      // within the margin (an hour) of the publish: nothing either
      expect(reminderDate(new Date(publishedAt.getTime() + 30 * 24 * 3_600_000 + 30 * 60_000), 30, publishedAt)).to.equal(null);
      expect(reminderDate(expiresAt, 29, publishedAt)!.toISOString()).to.equal('2026-03-11T12:00:00.000Z');
      expect(reminderDate(expiresAt, 3, publishedAt)!.toISOString()).to.equal('2026-04-06T12:00:00.000Z');
    });

    it('keys the reminder by expiry date (a renewal gets its own) and the expiry notice by publication', () => {
      const a = listingReminderKey('l1', 1, new Date('2026-04-09T12:00:00.000Z'));
      const b = listingReminderKey('l1', 1, new Date('2026-05-09T12:00:00.000Z'));
      expect(a).to.not.equal(b);
      expect(listingExpiredKey('l1', 1)).to.not.equal(listingExpiredKey('l1', 2));
      expect(listingReminderMessage('Ada', 'Bay mare', new Date('2026-04-09T12:00:00Z'), 3).subject).to.equal('Your listing "Bay mare" expires in 3 days');
    });
  });

  describe('validation helpers', () => {
    it('knows the ISO 4217 subset and rejects others', () => {
      expect(isCurrency('EUR')).to.equal(true);
      expect(isCurrency('CHF')).to.equal(true);
      expect(isCurrency('XYZ')).to.equal(false);
      expect(isCurrency('eur')).to.equal(false);
    });

    it('accepts real ISO 3166-1 alpha-2 codes only', () => {
      expect(isCountryCode('FR')).to.equal(true);
      expect(isCountryCode('DE')).to.equal(true);
      expect(isCountryCode('QQ')).to.equal(false);
      expect(isCountryCode('fr')).to.equal(false);
      expect(isCountryCode('FRA')).to.equal(false);
    });

    it('rejects the pseudo and reserved region codes the runtime knows names for', () => {
      for (const code of ['ZZ', 'EU', 'EZ', 'UN', 'QO', 'XA', 'XB', 'XK', 'UK', 'SU', 'AC', 'IC', 'TA', 'DG', 'CP', 'EA', 'FX', 'YU', 'AN']) {
        expect(isCountryCode(code), code).to.equal(false);
      }
      for (const code of ['GB', 'CH', 'NL', 'BE', 'IE', 'US', 'AX', 'SS', 'CW', 'BQ', 'SX', 'ME', 'RS', 'TL', 'AQ']) expect(isCountryCode(code), code).to.equal(true);
    });

    it('computes whole years of age and the birth-date range of an age filter', () => {
      expect(ageInYears('2019-03-10', now)).to.equal(7);
      expect(ageInYears('2019-03-11', now)).to.equal(6);
      const range = birthDateRange(now, 4, 8);
      // aged >= 4: born on or before 2022-03-10; aged <= 8: born after 2017-03-10
      expect(range).to.deep.equal({ bornOnOrBefore: '2022-03-10', bornAfter: '2017-03-10' });
      expect(ageInYears('2022-03-10', now)).to.equal(4);
      expect(ageInYears('2017-03-11', now)).to.equal(8);
      expect(ageInYears('2017-03-10', now)).to.equal(9);
      expect(birthDateRange(new Date('2024-02-29T00:00:00Z'), 1)).to.deep.equal({ bornOnOrBefore: '2023-02-28' });
    });
  });
});
