/** The vision-model port both providers implement. */
export type AiProvider = 'anthropic' | 'openai';

export interface VisionRequest {
  model: string;
  system: string;
  prompt: string;
  /** JPEG frames, in order. */
  images: Buffer[];
  /** JSON schema of the structured answer. */
  jsonSchema: Record<string, unknown>;
  maxOutputTokens?: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Sent as a request header (x-horse-tempo-analysis) so logs and stand-ins can correlate. */
  analysisId?: string;
}

export interface VisionResponse {
  provider: AiProvider;
  /** The model that answered, as the provider reports it. */
  model: string;
  text: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  /** True when the answer came from a local stand-in, not a real model. */
  sandbox: boolean;
}

export interface VisionClient {
  readonly provider: AiProvider;
  /** False when no API key and no base URL are set: calls fail at once, non-retryable. */
  readonly configured: boolean;
  complete(req: VisionRequest): Promise<VisionResponse>;
}

export type AiErrorKind = 'rate_limited' | 'overloaded' | 'server' | 'timeout' | 'connection' | 'rejected' | 'auth' | 'not_configured' | 'aborted' | 'empty';

/**
 * A provider failure, classified once: 429, 5xx, 529 (overloaded), timeouts and connection
 * errors are worth retrying; a bad request, auth or missing configuration are not.
 */
export class AiProviderError extends Error {
  override name = 'AiProviderError';
  constructor(
    readonly provider: AiProvider,
    readonly kind: AiErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
  get retryable(): boolean {
    return ['rate_limited', 'overloaded', 'server', 'timeout', 'connection', 'empty'].includes(this.kind);
  }
}

export interface AiClients {
  primary: VisionClient;
  fallback: VisionClient;
  /** Marks every stored result as sandbox (the dev stack sets it with the stand-ins). */
  sandbox: boolean;
}
