import { ApplicationFailure } from '@temporalio/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import { EmailOutbox, Notification, User } from '../../entities';
import { EmailProviderError, PermanentEmailError, type Mailer } from '../../adapters/email/mailer';

/**
 * What an outbox row keeps of a failed send (lastError, also the text of the activity's
 * failure): our words with the provider's HTTP status and error code. Never the provider's or
 * the network library's message: it quotes the address, request ids or hosts; the worker log
 * gets it.
 */
export function storedEmailError(provider: string, err: unknown): string {
  if (err instanceof EmailProviderError) {
    return `${provider} refused the email${err instanceof PermanentEmailError ? ' for good' : ''} (HTTP ${err.status || 'unknown'}, ${err.code})`;
  }
  const name = (err as Error | undefined)?.name;
  return `the email could not be handed to ${provider} (${name && /^[A-Za-z]{1,40}$/.test(name) ? name : 'Error'})`;
}
import { ErrorType } from '../../domain/errors';

export interface EmailRequest {
  /** Idempotency key: one email per key, ever (e.g. `welcome:<userId>`). */
  key: string;
  userId?: string;
  /** Defaults to the user's email. */
  to?: string;
  subject: string;
  text: string;
  html?: string;
}

export interface InAppRequest {
  key: string;
  userId: string;
  kind: string;
  title: string;
  body: string;
  data?: Record<string, unknown>;
}

export type EmailResult = { status: 'sent' | 'already-sent'; outboxId: string };

/**
 * Email and in-app notifications. Both are keyed: a retry after a crash (even one
 * between the provider accepting the email and our row being marked) finds the outbox
 * row, and the provider gets the same idempotency key.
 */
async function findOrCreate<T extends object>(create: () => Promise<T>, find: () => Promise<T | null>): Promise<T> {
  const existing = await find();
  if (existing) return existing;
  try {
    return await create();
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException)) throw err;
    const again = await find();
    if (!again) throw err;
    return again;
  }
}

/**
 * Delivers one email through the outbox: one row per key, sent at most once. `textToSend`,
 * when given, goes to the provider instead of the stored `text`: account emails store a
 * text with the link withheld and send the one with the link (rebuilt identically on a
 * retry), so the outbox never holds a usable token.
 */
export function createEmailDelivery(deps: { orm: MikroORM; mailer: Mailer; logger: Logger }) {
  const { orm, mailer, logger } = deps;
  return async function deliverEmail(req: EmailRequest, opts: { textToSend?: string } = {}): Promise<EmailResult> {
    const em = orm.em.fork();
    let to = req.to;
    if (!to) {
      if (!req.userId) throw ApplicationFailure.nonRetryable(`email ${req.key} has neither to nor userId`, ErrorType.Validation);
      const user = await em.findOne(User, { id: req.userId });
      if (!user) throw ApplicationFailure.nonRetryable(`user ${req.userId} not found for email ${req.key}`, ErrorType.NotFound);
      to = user.email;
    }
    await findOrCreate(
      async () => {
        const created = em.create(EmailOutbox, {
          key: req.key,
          userId: req.userId ?? null,
          to: to!,
          subject: req.subject,
          text: req.text,
          html: req.html ?? null,
        });
        await em.flush();
        return created;
      },
      () => em.fork().findOne(EmailOutbox, { key: req.key }),
    );
    const outbox = await em.findOneOrFail(EmailOutbox, { key: req.key });
    if (outbox.status === 'sent') return { status: 'already-sent', outboxId: outbox.id };
    if (outbox.status === 'failed') {
      throw ApplicationFailure.nonRetryable(`email ${req.key} failed permanently: ${outbox.lastError}`, ErrorType.Validation);
    }

    outbox.attempts += 1;
    try {
      const sent = await mailer.send({
        to: outbox.to,
        subject: outbox.subject,
        text: opts.textToSend ?? outbox.text,
        html: outbox.html,
        idempotencyKey: outbox.key,
      });
      outbox.status = 'sent';
      outbox.provider = mailer.name;
      outbox.providerMessageId = sent.id;
      outbox.sentAt = new Date();
      outbox.lastError = null;
      await em.flush();
      logger.info({ key: req.key, to: outbox.to, provider: mailer.name }, 'email sent');
      return { status: 'sent', outboxId: outbox.id };
    } catch (err) {
      outbox.lastError = storedEmailError(mailer.name, err);
      logger.warn({ key: req.key, provider: mailer.name, attempts: outbox.attempts, err: (err as Error)?.message }, 'email not sent');
      if (err instanceof PermanentEmailError) {
        outbox.status = 'failed';
        await em.flush();
        // Status and code as details: the reminder activities name them without quoting any message.
        throw ApplicationFailure.nonRetryable(outbox.lastError, ErrorType.Validation, { status: err.status, code: err.code });
      }
      await em.flush();
      throw err;
    }
  };
}

export function createNotifyActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger }) {
  const { orm } = deps;
  const deliverEmail = createEmailDelivery(deps);

  return {
    async sendEmail(req: EmailRequest): Promise<EmailResult> {
      return deliverEmail(req);
    },

    async notifyInApp(req: InAppRequest): Promise<{ notificationId: string; created: boolean }> {
      const em = orm.em.fork();
      let created = false;
      const row = await findOrCreate(
        async () => {
          const n = em.create(Notification, {
            key: req.key,
            userId: req.userId,
            kind: req.kind,
            title: req.title,
            body: req.body,
            data: req.data ?? null,
          });
          await em.flush();
          created = true;
          return n;
        },
        () => em.fork().findOne(Notification, { key: req.key }),
      );
      return { notificationId: row.id, created };
    },
  };
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
