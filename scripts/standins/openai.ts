import { randomUUID } from 'node:crypto';
import { startAiStandIn, type AiStandIn, type Dialect } from './ai-script';

/**
 * A local stand-in for the OpenAI Chat Completions API (POST /v1/chat/completions), so the
 * real `openai` SDK runs without a key or the internet. Answers are marked as sandbox (ids
 * start with chatcmpl-sandbox). Scriptable per test: see ai-script.ts.
 */
const ERROR_TYPE: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'invalid_request'],
  401: ['invalid_request_error', 'invalid_api_key'],
  403: ['invalid_request_error', 'forbidden'],
  429: ['rate_limit_exceeded', 'rate_limit_exceeded'],
  500: ['server_error', 'server_error'],
  503: ['server_error', 'overloaded'],
  529: ['server_error', 'overloaded'],
};

export const openaiDialect: Dialect = {
  name: 'openai',
  path: '/v1/chat/completions',
  inspect(body) {
    const parts = (body?.messages ?? [])
      .filter((m: any) => m.role === 'user')
      .flatMap((m: any) => (Array.isArray(m.content) ? m.content : [{ type: 'text', text: m.content }]));
    return {
      model: String(body?.model ?? ''),
      text: parts.filter((c: any) => c.type === 'text').map((c: any) => c.text).join('\n'),
      images: parts.filter((c: any) => c.type === 'image_url').length,
    };
  },
  success(model, answer, usage) {
    return {
      id: `chatcmpl-sandbox-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: typeof answer === 'string' ? answer : JSON.stringify(answer), refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
    };
  },
  error(status) {
    const [type, code] = ERROR_TYPE[status] ?? ['server_error', 'server_error'];
    return { body: { error: { message: `Scripted ${status} from the OpenAI stand-in`, type, param: null, code } } };
  },
  baseURL: (url) => `${url}/v1`,
};

export type OpenAiStandIn = AiStandIn;
export const startOpenAiStandIn = (port = 0): Promise<OpenAiStandIn> => startAiStandIn(openaiDialect, port);
