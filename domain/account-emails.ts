import type { MessageText } from './messages';

/**
 * Texts of the account emails. The link is a parameter: the worker renders each email twice,
 * with the real link for the provider and with WITHHELD_LINK for the outbox row, so the
 * database never holds a usable token.
 */
export const WITHHELD_LINK = '[link withheld from the outbox: only the recipient received it]';

export function verifyEmailMessage(firstName: string, link: string, ttlHours: number): MessageText {
  return {
    subject: 'Confirm your email address for Horse Tempo',
    text:
      `Hello ${firstName},\n\n` +
      `Open this link to confirm your email address:\n${link}\n\n` +
      `It works once and for ${ttlHours} hours. Until you confirm, your free analysis credits wait ` +
      'and you cannot invite anyone to your stable.\n\n' +
      'If you did not create a Horse Tempo account, ignore this email.\n\n— The Horse Tempo team',
  };
}

export function passwordResetMessage(firstName: string, link: string, ttlMinutes: number): MessageText {
  return {
    subject: 'Reset your Horse Tempo password',
    text:
      `Hello ${firstName},\n\n` +
      `Someone (hopefully you) asked to reset your password. Open this link to choose a new one:\n${link}\n\n` +
      `It works once and for ${ttlMinutes} minutes. Using it signs out every session and revokes every API key.\n\n` +
      'If you did not ask, ignore this email: your password stays as it is.\n\n— The Horse Tempo team',
  };
}

export function passwordChangedNotice(firstName: string): MessageText {
  return {
    subject: 'Your Horse Tempo password was reset',
    text:
      `Hello ${firstName},\n\n` +
      'Your password was just reset with a link sent to this address. Every session was signed out ' +
      'and every API key revoked.\n\n' +
      'If this was not you, reset your password again at once and contact support.\n\n— The Horse Tempo team',
  };
}

export function invitationMessage(input: { organizationName: string; inviterFirstName: string; role: string; link: string; expiresAt: Date }): MessageText {
  return {
    subject: `${input.inviterFirstName} invited you to ${input.organizationName} on Horse Tempo`,
    text:
      `Hello,\n\n` +
      `${input.inviterFirstName} invited you to join the stable "${input.organizationName}" on Horse Tempo as ${input.role}.\n\n` +
      `To answer, sign in with this email address (or create an account with it and confirm it), then open:\n${input.link}\n\n` +
      `You can accept or decline. The invitation expires on ${input.expiresAt.toISOString().slice(0, 10)}. ` +
      'Nothing is shared with the stable until you accept.\n\n— The Horse Tempo team',
  };
}
