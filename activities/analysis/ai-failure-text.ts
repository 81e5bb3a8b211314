import type { AiErrorKind, AiProvider } from '../../adapters/ai/types';

/**
 * What an analysis stores, and GET /api/analyses/:id shows, when an AI provider call fails:
 * our own words for the kind of failure, never the provider's message. Provider and SDK
 * messages can quote request ids, account or organization names, key prefixes, internal
 * addresses (ECONNREFUSED 10.0.0.5:443) or proxy URLs; they go to the worker log only.
 */
const TEXT: Record<AiErrorKind, string> = {
  rate_limited: 'rate limited by the provider',
  overloaded: 'the provider is overloaded',
  server: 'the provider failed to answer',
  timeout: 'the provider did not answer in time',
  connection: 'the provider could not be reached',
  rejected: 'the provider refused the request',
  auth: 'the provider refused our credentials',
  not_configured: 'the provider is not configured',
  aborted: 'the request was canceled',
  empty: 'the provider answered without content',
};

export function aiFailureText(provider: AiProvider, kind: AiErrorKind, status?: number): string {
  return `${provider}: ${TEXT[kind] ?? TEXT.server}${status ? ` (HTTP ${status})` : ''}`;
}

/** An AI answer that fails our validation: the validator's detail is logged, not stored. */
export const invalidAnswerText = (provider: AiProvider) => `${provider}: the answer did not match the expected analysis format`;
