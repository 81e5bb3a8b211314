import { expect } from 'chai';
import { passwordProblems } from '../../domain/password';
import { entitlementsOf, isUpgrade, PLANS } from '../../domain/plans';
import { parseDuration, addDays, daysBetween } from '../../domain/time';
import * as ids from '../../workflows/ids';

describe('password rule', () => {
  it('accepts a long mixed password and lists every rule a weak one breaks', () => {
    expect(passwordProblems('Str0ngPassw0rd')).to.deep.equal([]);
    expect(passwordProblems('abc')).to.deep.equal(['must be at least 8 characters', 'must contain an uppercase letter', 'must contain a digit']);
  });
});

describe('plans', () => {
  it('grants more to higher plans and prices them as the seed says', () => {
    expect(PLANS).to.deep.equal(['free', 'premium', 'pro']);
    expect(entitlementsOf('premium').priceCents).to.deep.equal({ month: 4900, year: 49000 });
    expect(entitlementsOf('pro').priceCents).to.deep.equal({ month: 14900, year: 149000 });
    expect(entitlementsOf('free').priceCents).to.equal(null);
    expect(entitlementsOf('pro').monthlyAnalysisCredits).to.be.greaterThan(entitlementsOf('premium').monthlyAnalysisCredits);
    expect(isUpgrade('free', 'pro')).to.equal(true);
    expect(isUpgrade('pro', 'premium')).to.equal(false);
  });
});

describe('time helpers', () => {
  it('parses durations and counts days in UTC', () => {
    expect(parseDuration('7d')).to.equal(7 * 86_400_000);
    expect(parseDuration('30m')).to.equal(1_800_000);
    expect(() => parseDuration('7 weeks')).to.throw(/Invalid duration/);
    const d = new Date('2026-03-28T00:00:00Z');
    expect(daysBetween(d, addDays(d, 340))).to.equal(340);
  });
});

describe('workflow ids', () => {
  it('builds business ids and parses them back, rejecting foreign prefixes', () => {
    expect(ids.analysisWorkflowId('a1')).to.equal('analysis-a1');
    expect(ids.parseAnalysisWorkflowId('analysis-a1')).to.equal('a1');
    expect(ids.parseAnalysisWorkflowId('listing-a1')).to.equal(null);
    expect(ids.parseSubscriptionWorkflowId(ids.subscriptionWorkflowId('u-1'))).to.equal('u-1');
    expect(ids.parseGestationWorkflowId('gestation-')).to.equal(null);
    expect(() => ids.listingWorkflowId('')).to.throw();
  });
});
