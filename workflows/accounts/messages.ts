export interface WelcomeInput {
  userId: string;
}

export interface AccountsReconcileInput {
  olderThanMinutes?: number;
  withinDays?: number;
  limit?: number;
}

/** Emails that carry an account link or answer one. Only ids travel through Temporal. */
export const ACCOUNT_EMAIL_KINDS = ['verify-email', 'reset-password', 'password-reset-notice', 'invitation'] as const;
export type AccountEmailKind = (typeof ACCOUNT_EMAIL_KINDS)[number];

export interface AccountEmailInput {
  kind: AccountEmailKind;
  /** The account token's id (verify-email, reset-password, password-reset-notice) or the invitation's. */
  id: string;
}

export interface AccountEmailsReconcileInput {
  olderThanMinutes?: number;
  limit?: number;
}

export interface AccountEmailResult {
  status: 'sent' | 'already-sent' | 'skipped';
}
