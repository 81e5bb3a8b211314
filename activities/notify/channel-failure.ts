import { ApplicationFailure } from '@temporalio/common';
import { EmailProviderError } from '../../adapters/email/mailer';

/** What a channel failure may say once it is stored: HTTP status and provider error code, nothing typed by a provider. */
export interface ChannelFailureFacts {
  status?: number;
  code?: string;
}

const SAFE_WORD = /^[A-Za-z0-9_.-]{1,60}$/;
const safeWord = (s: unknown): string | undefined => (typeof s === 'string' && SAFE_WORD.test(s) ? s : undefined);
const safeStatus = (n: unknown): number | undefined => (typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined);

/** The status and code a channel's error carries (an EmailProviderError, or an ApplicationFailure whose first detail holds them). */
function factsOf(err: unknown): ChannelFailureFacts {
  if (err instanceof EmailProviderError) return { status: safeStatus(err.status), code: safeWord(err.code) };
  if (err instanceof ApplicationFailure) {
    const d = err.details?.[0] as ChannelFailureFacts | null | undefined;
    return { status: safeStatus(d?.status), code: safeWord(d?.code) };
  }
  return {};
}

/**
 * What a reminder activity keeps of a channel that failed (its permanent-failure list, the
 * text of the failure it throws, which Temporal stores in the workflow history): our words,
 * the failure's type or class, the HTTP status and the provider's error code. Never the error's
 * message: a provider's or a network library's wording quotes addresses, hosts and request
 * ids (README "issue-10 notes"). The worker log next to it gets the message.
 */
export function channelFailureText(channel: string, err: unknown, when: 'for good' | 'until the deadline' = 'for good'): string {
  const kind = err instanceof ApplicationFailure ? safeWord(err.type) : safeWord((err as Error | null | undefined)?.name);
  const { status, code } = factsOf(err);
  const facts = [kind ?? 'Error', status ? `HTTP ${status}` : null, code && code !== 'unknown' ? code : null].filter(Boolean).join(', ');
  return `${channel} failed ${when} (${facts})`;
}
