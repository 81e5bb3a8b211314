import { expect } from 'chai';
import { accountTokenFor, hashAccountToken } from '../../entities/account-tokens';
import { VerifyEmailBody } from '../../api/accounts/schemas';
import { invitationMessage, passwordResetMessage, verifyEmailMessage, WITHHELD_LINK } from '../../domain/account-emails';

describe('account link tokens', () => {
  const secret = 's'.repeat(40);
  const id = '00000000-0000-4000-8000-000000000001';

  it('rebuilds the same token from the row id and the secret (so a retried send mails the same link)', () => {
    expect(accountTokenFor(secret, id)).to.equal(accountTokenFor(secret, id));
  });

  it('gives another token for another row or another secret', () => {
    expect(accountTokenFor(secret, id)).to.not.equal(accountTokenFor(secret, '00000000-0000-4000-8000-000000000002'));
    expect(accountTokenFor(secret, id)).to.not.equal(accountTokenFor('t'.repeat(40), id));
  });

  it('stores a hash that is not the token and does not contain it', () => {
    const token = accountTokenFor(secret, id);
    expect(hashAccountToken(token)).to.match(/^[0-9a-f]{64}$/);
    expect(hashAccountToken(token)).to.not.contain(token.slice(4));
  });

  it('is accepted by the request schema, which refuses anything else', () => {
    expect(VerifyEmailBody.safeParse({ token: accountTokenFor(secret, id) }).success).to.equal(true);
    expect(VerifyEmailBody.safeParse({ token: 'hta_short' }).success).to.equal(false);
    expect(VerifyEmailBody.safeParse({ token: `rt_${accountTokenFor(secret, id).slice(4)}` }).success).to.equal(false);
  });

  it('renders each link email with the link given, so the outbox copy can withhold it', () => {
    for (const render of [(l: string) => verifyEmailMessage('Ada', l, 48), (l: string) => passwordResetMessage('Ada', l, 60)]) {
      expect(render('https://app.test/x#token=hta_secret').text).to.contain('hta_secret');
      expect(render(WITHHELD_LINK).text).to.not.contain('hta_');
      expect(render(WITHHELD_LINK).text).to.contain('withheld');
    }
    const inv = invitationMessage({ organizationName: 'Yard', inviterFirstName: 'Ada', role: 'member', link: 'https://app.test/invitations/1', expiresAt: new Date('2027-01-01') });
    expect(inv.subject).to.equal('Ada invited you to Yard on Horse Tempo');
    expect(inv.text).to.contain('2027-01-01');
  });
});
