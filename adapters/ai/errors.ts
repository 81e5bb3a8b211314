import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { AiProviderError, type AiProvider } from './types';

type SdkError = { status?: number; name?: string; message?: string };

/** Maps an SDK error (either provider: both SDKs share the same error classes' shape) to a classified failure. */
export function classifyAiError(provider: AiProvider, err: unknown): AiProviderError {
  if (err instanceof AiProviderError) return err;
  const e = err as SdkError;
  const msg = `${provider}: ${e?.message ?? String(err)}`;
  if (err instanceof Anthropic.APIUserAbortError || err instanceof OpenAI.APIUserAbortError) return new AiProviderError(provider, 'aborted', msg);
  if (err instanceof Anthropic.APIConnectionTimeoutError || err instanceof OpenAI.APIConnectionTimeoutError) return new AiProviderError(provider, 'timeout', `${provider}: request timed out`);
  if (err instanceof Anthropic.APIConnectionError || err instanceof OpenAI.APIConnectionError) return new AiProviderError(provider, 'connection', msg);
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (status !== undefined) return classifyStatus(provider, status, msg);
  if ((err as Error)?.name === 'AbortError') return new AiProviderError(provider, 'aborted', msg);
  return new AiProviderError(provider, 'server', msg);
}

export function classifyStatus(provider: AiProvider, status: number, message: string): AiProviderError {
  if (status === 429) return new AiProviderError(provider, 'rate_limited', message, status);
  if (status === 529) return new AiProviderError(provider, 'overloaded', message, status);
  if (status === 408) return new AiProviderError(provider, 'timeout', message, status);
  if (status >= 500) return new AiProviderError(provider, 'server', message, status);
  if (status === 401 || status === 403) return new AiProviderError(provider, 'auth', message, status);
  return new AiProviderError(provider, 'rejected', message, status);
}
