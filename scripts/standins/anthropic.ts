import { randomUUID } from 'node:crypto';
import { startAiStandIn, type AiStandIn, type Dialect } from './ai-script';

/**
 * A local stand-in for the Anthropic Messages API (POST /v1/messages), so the real
 * `@anthropic-ai/sdk` runs without a key or the internet. Answers are marked as sandbox
 * (message ids start with msg_sandbox). Scriptable per test: see ai-script.ts.
 */
const ERROR_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'api_error',
  529: 'overloaded_error',
};

export const anthropicDialect: Dialect = {
  name: 'anthropic',
  path: '/v1/messages',
  inspect(body) {
    const content = (body?.messages ?? []).flatMap((m: any) => (Array.isArray(m.content) ? m.content : [{ type: 'text', text: m.content }]));
    return {
      model: String(body?.model ?? ''),
      text: content.filter((c: any) => c.type === 'text').map((c: any) => c.text).join('\n'),
      images: content.filter((c: any) => c.type === 'image').length,
    };
  },
  success(model, answer, usage) {
    return {
      id: `msg_sandbox_${randomUUID().replace(/-/g, '')}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: typeof answer === 'string' ? answer : JSON.stringify(answer) }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: usage.output },
    };
  },
  error(status) {
    const type = ERROR_TYPE[status] ?? 'api_error';
    return {
      body: { type: 'error', error: { type, message: `Scripted ${status} from the Anthropic stand-in` } },
      headers: status === 429 ? { 'retry-after': '1' } : undefined,
    };
  },
  baseURL: (url) => url,
};

export type AnthropicStandIn = AiStandIn;
export const startAnthropicStandIn = (port = 0): Promise<AnthropicStandIn> => startAiStandIn(anthropicDialect, port);
