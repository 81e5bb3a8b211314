import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { AccountToken, Invitation, Organization, User } from '../../entities';
import { accountTokenFor } from '../../entities/account-tokens';
import { ErrorType } from '../../domain/errors';
import { invitationMessage, passwordChangedNotice, passwordResetMessage, verifyEmailMessage, WITHHELD_LINK } from '../../domain/account-emails';
import type { MessageText } from '../../domain/messages';
import { createEmailDelivery } from '../notify';
import type { AccountEmailInput, AccountEmailResult } from '../../workflows/accounts/messages';

type Deps = { orm: MikroORM; mailer: Mailer; logger: Logger; config: Pick<Config, 'JWT_SECRET' | 'APP_URL' | 'EMAIL_VERIFICATION_TTL_HOURS' | 'PASSWORD_RESET_TTL_MINUTES'> };

/**
 * Account emails (verification, password reset and its notice, invitations). The workflow
 * hands over an id only; addresses, names and links are read and rebuilt here, so no
 * personal data or token reaches a Temporal history.
 */
export function createAccountEmailActivities(deps: Deps) {
  const deliverEmail = createEmailDelivery(deps);
  const link = (path: string) => new URL(path, deps.config.APP_URL).toString();

  /** Sends `render(link)`, storing `render(WITHHELD_LINK)` in the outbox. */
  async function sendWithLink(key: string, userId: string | null, to: string, render: (link: string) => MessageText, realLink: string) {
    const stored = render(WITHHELD_LINK);
    const sent = render(realLink);
    return deliverEmail({ key, ...(userId ? { userId } : {}), to, subject: stored.subject, text: stored.text }, { textToSend: sent.text });
  }

  return {
    /**
     * Account emails whose request committed but whose workflow never started (the API
     * crashed or Temporal was unreachable between the commit and the start): unused,
     * unexpired links and pending invitations older than `olderThanMinutes` with no outbox row.
     * Only ids are returned. Reset notices are not swept (a used reset token does not say
     * whether its own reset or a later one used it).
     */
    async findUnsentAccountEmails(input: { olderThanMinutes: number; limit: number }): Promise<AccountEmailInput[]> {
      const rows: { kind: AccountEmailInput['kind']; id: string }[] = await deps.orm.em
        .fork()
        .getConnection()
        .execute(
          `select t.purpose as kind, t.id from account_tokens t
            where t.used_at is null and t.expires_at > now() and t.created_at < now() - make_interval(mins => ?)
              and not exists (select 1 from email_outbox e where e.key = t.purpose || ':' || t.id::text)
           union all
           select 'invitation' as kind, i.id from invitations i
            where i.status = 'pending' and i.expires_at > now() and i.created_at < now() - make_interval(mins => ?)
              and not exists (select 1 from email_outbox e where e.key = 'invitation:' || i.id::text)
           limit ?`,
          [input.olderThanMinutes, input.olderThanMinutes, input.limit],
        );
      return rows.map((r) => ({ kind: r.kind, id: r.id }));
    },

    async deliverAccountEmail(input: AccountEmailInput): Promise<AccountEmailResult> {
      const em = deps.orm.em.fork();
      const key = `${input.kind}:${input.id}`;
      if (input.kind === 'invitation') {
        const inv = await em.findOne(Invitation, { id: input.id }, { populate: ['organization'] });
        if (!inv) throw ApplicationFailure.nonRetryable(`invitation ${input.id} not found`, ErrorType.NotFound);
        // Revoked (or answered, or expired) before the worker got to it: nothing to offer.
        if (inv.status !== 'pending' || inv.expiresAt.getTime() <= Date.now()) return { status: 'skipped' };
        const inviter = await em.findOne(User, { id: inv.invitedBy });
        const organization = inv.organization as Organization;
        const result = await deliverEmail({
          key,
          to: inv.email,
          ...invitationMessage({
            organizationName: organization.name,
            inviterFirstName: inviter?.firstName ?? 'A member',
            role: inv.role,
            link: link(`/invitations/${inv.id}`),
            expiresAt: inv.expiresAt,
          }),
        });
        return { status: result.status };
      }

      const token = await em.findOne(AccountToken, { id: input.id }, { populate: ['user'] });
      if (!token) throw ApplicationFailure.nonRetryable(`account token ${input.id} not found`, ErrorType.NotFound);
      const user = token.user as User;
      if (input.kind === 'password-reset-notice') {
        const result = await deliverEmail({ key, userId: user.id, to: user.email, ...passwordChangedNotice(user.firstName) });
        return { status: result.status };
      }
      if (token.purpose !== input.kind) throw ApplicationFailure.nonRetryable(`account token ${input.id} is for ${token.purpose}, not ${input.kind}`, ErrorType.Validation);
      // A link that can no longer work is not worth an email (the worker was down for its whole life).
      if (token.expiresAt.getTime() <= Date.now()) return { status: 'skipped' };
      const raw = accountTokenFor(deps.config.JWT_SECRET, token.id);
      const result =
        input.kind === 'verify-email'
          ? await sendWithLink(key, user.id, user.email, (l) => verifyEmailMessage(user.firstName, l, deps.config.EMAIL_VERIFICATION_TTL_HOURS), link(`/verify-email#token=${raw}`))
          : await sendWithLink(key, user.id, user.email, (l) => passwordResetMessage(user.firstName, l, deps.config.PASSWORD_RESET_TTL_MINUTES), link(`/reset-password#token=${raw}`));
      return { status: result.status };
    },
  };
}

export type AccountEmailActivities = ReturnType<typeof createAccountEmailActivities>;
