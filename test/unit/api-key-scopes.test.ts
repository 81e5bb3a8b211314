import { expect } from 'chai';
import { apiKeyRefusal, featureOfPath } from '../../domain/api-keys';

describe('API-key scopes (domain/api-keys)', () => {
  it('maps every feature route to its scope, the health book included', () => {
    expect(featureOfPath('/api/horses/8d0c/')).to.equal('horses');
    expect(featureOfPath('/api/horses/8d0c/health/records')).to.equal('health');
    expect(featureOfPath('/api/health/calendar-feeds')).to.equal('health');
    expect(featureOfPath('/api/analyses/1')).to.equal('analyses');
    expect(featureOfPath('/api/uploads')).to.equal('analyses');
    expect(featureOfPath('/api/gestations/1/foaling')).to.equal('gestation');
    expect(featureOfPath('/api/marketplace/listings')).to.equal('marketplace');
    expect(featureOfPath('/api/billing/subscription')).to.equal('billing');
    expect(featureOfPath('/api/organizations/1/members')).to.equal('organizations');
    expect(featureOfPath('/api/notifications')).to.equal('notifications');
    expect(featureOfPath('/api/invitations/1/accept')).to.equal('organizations');
    expect(featureOfPath('/api/auth/api-keys')).to.equal('accounts');
    expect(featureOfPath('/api/something-new')).to.equal(null);
  });

  it('lets read-only keys read everything and write nothing; a feature scope reads and writes only that feature', () => {
    expect(apiKeyRefusal(['read'], 'GET', '/api/horses')).to.equal(null);
    expect(apiKeyRefusal(['read'], 'POST', '/api/horses')).to.match(/lacks the 'horses' scope/);
    expect(apiKeyRefusal(['horses'], 'POST', '/api/horses')).to.equal(null);
    expect(apiKeyRefusal(['horses'], 'GET', '/api/marketplace/listings')).to.match(/'marketplace' scope \(or 'read'\)/);
    expect(apiKeyRefusal(['horses'], 'GET', '/api/horses/1/health')).to.match(/'health'/);
  });

  it('never lets a key manage keys or passwords, nor reach a route of no known feature', () => {
    expect(apiKeyRefusal(['read', 'horses'], 'POST', '/api/auth/api-keys')).to.match(/cannot manage/);
    expect(apiKeyRefusal(['read'], 'POST', '/api/auth/change-password')).to.match(/cannot manage/);
    expect(apiKeyRefusal(['read'], 'GET', '/api/auth/me')).to.equal(null);
    expect(apiKeyRefusal(['read'], 'GET', '/api/something-new')).to.match(/cannot use this route/);
  });

  it("lets a key with the 'organizations' (organization-admin) scope send, list and revoke invitations, and never accept or decline one", () => {
    const org = '/api/organizations/8d0c/invitations';
    expect(apiKeyRefusal(['organizations'], 'POST', org)).to.equal(null);
    expect(apiKeyRefusal(['organizations'], 'GET', org)).to.equal(null);
    expect(apiKeyRefusal(['organizations'], 'DELETE', `${org}/77aa`)).to.equal(null);
    expect(apiKeyRefusal(['read'], 'GET', org)).to.match(/lacks the 'organizations' scope.*'read' does not list them/);
    expect(apiKeyRefusal(['horses'], 'POST', org)).to.match(/lacks the 'organizations' scope/);
    expect(apiKeyRefusal(['organizations'], 'GET', '/api/invitations')).to.equal(null);
    expect(apiKeyRefusal(['read'], 'GET', '/api/invitations/')).to.equal(null);
    expect(apiKeyRefusal(['horses'], 'GET', '/api/invitations')).to.match(/lacks the 'organizations' scope \(or 'read'\)/);
    for (const action of ['accept', 'decline', 'Accept/']) {
      expect(apiKeyRefusal(['organizations', 'read'], 'POST', `/api/invitations/77aa/${action}`)).to.match(/cannot accept or decline invitations/);
    }
  });
});
