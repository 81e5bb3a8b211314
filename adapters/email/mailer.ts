import { Resend } from 'resend';
import type { Logger } from 'pino';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html?: string | null;
  /** Passed to the provider so a resend after a crash is deduplicated there too. */
  idempotencyKey: string;
}

/** The email port. Adapters: Resend (when RESEND_API_KEY is set) or the log mailer. */
export interface Mailer {
  readonly name: string;
  send(email: OutgoingEmail): Promise<{ id: string }>;
}

/**
 * A provider refused the email. `status` and `code` (the provider's error name, e.g.
 * validation_error) are safe to store; the message is the provider's own words (it quotes the
 * address and can carry request ids), for the log only.
 */
export class EmailProviderError extends Error {
  override name = 'EmailProviderError';
  constructor(
    message: string,
    readonly status = 0,
    readonly code = 'unknown',
  ) {
    super(message);
  }
}

/** Thrown for provider answers that retrying cannot fix (bad address, auth). */
export class PermanentEmailError extends EmailProviderError {
  override name = 'PermanentEmailError';
}

export class ResendMailer implements Mailer {
  readonly name = 'resend';
  private readonly resend: Resend;

  constructor(
    apiKey: string,
    private readonly from: string,
    baseUrl?: string,
  ) {
    this.resend = new Resend(apiKey, baseUrl ? { baseUrl } : undefined);
  }

  async send(email: OutgoingEmail): Promise<{ id: string }> {
    const { data, error } = await this.resend.emails.send(
      { from: this.from, to: email.to, subject: email.subject, text: email.text, ...(email.html ? { html: email.html } : {}) },
      { idempotencyKey: email.idempotencyKey },
    );
    if (error) {
      const status = (error as { statusCode?: number | null }).statusCode ?? 0;
      const message = `Resend refused the email to ${email.to}: ${error.name}: ${error.message}`;
      const code = /^[a-z_]{1,64}$/.test(error.name) ? error.name : 'unknown';
      if (status >= 400 && status < 500 && status !== 429 && status !== 409) throw new PermanentEmailError(message, status, code);
      throw new EmailProviderError(message, status, code);
    }
    if (!data?.id) throw new Error('Resend answered without a message id');
    return { id: data.id };
  }
}

/** Development default: the outbox row is the record; the log line shows it was "sent". */
export class LogMailer implements Mailer {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}

  async send(email: OutgoingEmail): Promise<{ id: string }> {
    this.logger.info({ to: email.to, subject: email.subject, key: email.idempotencyKey }, 'email (log mailer)');
    return { id: `log-${email.idempotencyKey}` };
  }
}

export function createMailer(
  config: { RESEND_API_KEY?: string; RESEND_BASE_URL?: string; EMAIL_FROM: string },
  logger: Logger,
): Mailer {
  return config.RESEND_API_KEY
    ? new ResendMailer(config.RESEND_API_KEY, config.EMAIL_FROM, config.RESEND_BASE_URL)
    : new LogMailer(logger);
}
