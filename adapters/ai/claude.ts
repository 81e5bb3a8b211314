import Anthropic from '@anthropic-ai/sdk';
import { classifyAiError } from './errors';
import { AiProviderError, type VisionClient, type VisionRequest, type VisionResponse } from './types';

/** Claude vision through the Messages API, with a JSON-schema'd structured answer. */
export class ClaudeVision implements VisionClient {
  readonly provider = 'anthropic' as const;
  readonly configured: boolean;
  private readonly client: Anthropic | null;

  constructor(opts: { apiKey?: string; baseURL?: string }) {
    this.configured = Boolean(opts.apiKey);
    // The SDK's own retries are off: the Temporal activity retry policy is the one place retries happen.
    this.client = opts.apiKey ? new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0 }) : null;
  }

  async complete(req: VisionRequest): Promise<VisionResponse> {
    if (!this.client) throw new AiProviderError('anthropic', 'not_configured', 'anthropic: ANTHROPIC_API_KEY is not set');
    const started = Date.now();
    try {
      const message = await this.client.messages.create(
        {
          model: req.model,
          max_tokens: req.maxOutputTokens ?? 2048,
          system: req.system,
          messages: [
            {
              role: 'user',
              content: [
                ...req.images.map((img) => ({ type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/jpeg' as const, data: img.toString('base64') } })),
                { type: 'text' as const, text: req.prompt },
              ],
            },
          ],
          output_config: { format: { type: 'json_schema', schema: req.jsonSchema } },
        },
        { timeout: req.timeoutMs, signal: req.signal, headers: req.analysisId ? { 'x-horse-tempo-analysis': req.analysisId } : undefined },
      );
      const text = message.content
        .filter((b): b is Anthropic.TextBlock => b.type === 'text')
        .map((b) => b.text)
        .join('');
      if (!text) throw new AiProviderError('anthropic', 'empty', `anthropic: answer without text (stop_reason ${message.stop_reason})`);
      return {
        provider: 'anthropic',
        model: message.model,
        text,
        inputTokens: message.usage.input_tokens,
        outputTokens: message.usage.output_tokens,
        latencyMs: Date.now() - started,
        sandbox: message.id.startsWith('msg_sandbox'),
      };
    } catch (err) {
      throw classifyAiError('anthropic', err);
    }
  }
}
