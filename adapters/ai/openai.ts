import OpenAI from 'openai';
import { classifyAiError } from './errors';
import { AiProviderError, type VisionClient, type VisionRequest, type VisionResponse } from './types';

/** OpenAI vision through Chat Completions with a strict JSON-schema response format. */
export class OpenAiVision implements VisionClient {
  readonly provider = 'openai' as const;
  readonly configured: boolean;
  private readonly client: OpenAI | null;

  constructor(opts: { apiKey?: string; baseURL?: string }) {
    this.configured = Boolean(opts.apiKey);
    this.client = opts.apiKey ? new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0 }) : null;
  }

  async complete(req: VisionRequest): Promise<VisionResponse> {
    if (!this.client) throw new AiProviderError('openai', 'not_configured', 'openai: OPENAI_API_KEY is not set');
    const started = Date.now();
    try {
      const completion = await this.client.chat.completions.create(
        {
          model: req.model,
          max_completion_tokens: req.maxOutputTokens ?? 2048,
          messages: [
            { role: 'system', content: req.system },
            {
              role: 'user',
              content: [
                { type: 'text', text: req.prompt },
                ...req.images.map((img) => ({ type: 'image_url' as const, image_url: { url: `data:image/jpeg;base64,${img.toString('base64')}`, detail: 'auto' as const } })),
              ],
            },
          ],
          response_format: { type: 'json_schema', json_schema: { name: 'horse_analysis', strict: true, schema: req.jsonSchema } },
        },
        { timeout: req.timeoutMs, signal: req.signal, headers: req.analysisId ? { 'x-horse-tempo-analysis': req.analysisId } : undefined },
      );
      const choice = completion.choices[0];
      const text = choice?.message?.content ?? '';
      if (!text) {
        const why = choice?.message?.refusal ? `refused: ${choice.message.refusal}` : `finish_reason ${choice?.finish_reason}`;
        throw new AiProviderError('openai', 'empty', `openai: answer without content (${why})`);
      }
      return {
        provider: 'openai',
        model: completion.model,
        text,
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
        latencyMs: Date.now() - started,
        sandbox: completion.id.startsWith('chatcmpl-sandbox'),
      };
    } catch (err) {
      throw classifyAiError('openai', err);
    }
  }
}
