import type { Config } from '../../config';
import { ClaudeVision } from './claude';
import { OpenAiVision } from './openai';
import type { AiClients } from './types';

export * from './types';
export { classifyAiError } from './errors';
export { ClaudeVision } from './claude';
export { OpenAiVision } from './openai';

/** Claude first, OpenAI as the fallback (ARCHITECTURE.md: video analysis). */
export function createAiClients(config: Pick<Config, 'ANTHROPIC_API_KEY' | 'ANTHROPIC_BASE_URL' | 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'AI_SANDBOX'>): AiClients {
  return {
    primary: new ClaudeVision({ apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL }),
    fallback: new OpenAiVision({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL }),
    sandbox: config.AI_SANDBOX,
  };
}
