import { expect } from 'chai';
import { successorPath } from '../../api/http/legacy-paths';

describe('legacy paths of renamed features', () => {
  it('maps each old prefix to its successor, keeping the rest of the path', () => {
    expect(successorPath('/api/breeding/pregnancies')).to.equal('/api/gestations');
    expect(successorPath('/api/breeding/pregnancies/abc/checks')).to.equal('/api/gestations/abc/checks');
    expect(successorPath('/api/breeding/preferences')).to.equal('/api/notifications/preferences');
    expect(successorPath('/api/webhooks/stripe')).to.equal('/api/billing/webhook');
  });

  it('matches whole path segments only and leaves current paths alone', () => {
    expect(successorPath('/api/webhooks/stripe2')).to.equal(null);
    expect(successorPath('/api/breeding/pregnanciesX')).to.equal(null);
    expect(successorPath('/api/gestations/abc')).to.equal(null);
    expect(successorPath('/api/breeding')).to.equal(null);
  });
});
