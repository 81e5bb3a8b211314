import { z } from 'zod';
import type { MessageText } from './messages';

/**
 * AI video analysis: the rules shared by the API, the workflow and the activities.
 * Pure (no I/O), so the workflow may import it.
 */

export const ANALYSIS_TYPES = ['locomotion', 'jumping', 'dressage', 'behavior', 'conformation'] as const;
export type AnalysisType = (typeof ANALYSIS_TYPES)[number];

export const ANALYSIS_STATUSES = ['pending', 'running', 'completed', 'failed', 'canceled'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];
export const TERMINAL_STATUSES: readonly AnalysisStatus[] = ['completed', 'failed', 'canceled'];
export const isTerminal = (s: AnalysisStatus) => TERMINAL_STATUSES.includes(s);

/** Credits one analysis of each type costs (seed). */
export const ANALYSIS_CREDIT_COST: Record<AnalysisType, number> = {
  locomotion: 1,
  jumping: 2,
  dressage: 2,
  behavior: 1,
  conformation: 1,
};

/** Frames sent to the model per type: movement needs more samples than a standing horse. */
export const ANALYSIS_FRAME_COUNT: Record<AnalysisType, number> = {
  locomotion: 12,
  jumping: 10,
  dressage: 12,
  behavior: 8,
  conformation: 4,
};

/** Longest edge of an extracted frame. */
export const FRAME_MAX_EDGE_PX = 1024;
/** Longest video we analyse; longer uploads fail at the probe step without any AI call. */
export const MAX_VIDEO_SECONDS = 600;

export const VIDEO_CONTENT_TYPES = ['video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska', 'video/x-msvideo', 'video/mpeg', 'video/3gpp'] as const;
const EXTENSION: Record<string, string> = {
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
  'video/x-matroska': 'mkv',
  'video/x-msvideo': 'avi',
  'video/mpeg': 'mpg',
  'video/3gpp': '3gp',
};
/** The bare media type: `Video/MP4; codecs="avc1"` → `video/mp4` (what uploads are signed and checked with). */
export const bareMediaType = (ct: string) => ct.split(';')[0].trim().toLowerCase();
export const isVideoContentType = (ct: string) => (VIDEO_CONTENT_TYPES as readonly string[]).includes(bareMediaType(ct));
export const videoExtension = (ct: string) => EXTENSION[bareMediaType(ct)] ?? 'bin';

/** Object keys: every object lives under its organization's prefix. */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const videoKeyPrefix = (organizationId: string) => `orgs/${organizationId}/videos/`;
export const videoKey = (organizationId: string, id: string, contentType: string) => `${videoKeyPrefix(organizationId)}${id}.${videoExtension(contentType)}`;
/** Everything one analysis owns in storage (its video copy, its frames); deleted when it ends. */
export const analysisPrefix = (organizationId: string, analysisId: string) => `orgs/${organizationId}/analyses/${analysisId}/`;
export const framesPrefix = (organizationId: string, analysisId: string) => `${analysisPrefix(organizationId, analysisId)}frames/`;
/**
 * The analysis' own copy of the uploaded video. No upload token or presigned URL ever
 * points here, so hash, probe and frames all read the same immutable bytes.
 */
export const analysisVideoKey = (organizationId: string, analysisId: string, ext: string) => `${analysisPrefix(organizationId, analysisId)}video.${ext}`;
const VIDEO_KEY_RE = new RegExp(`^orgs/(${UUID})/videos/(${UUID})\\.([a-z0-9]{2,4})$`);
/** The shape of a video key, for the API document. */
export const VIDEO_KEY_PATTERN = VIDEO_KEY_RE.source;
/** The organization a video key belongs to, or null when the key is not one of ours. */
export function parseVideoKey(key: string): { organizationId: string; id: string; ext: string } | null {
  const m = VIDEO_KEY_RE.exec(key);
  return m ? { organizationId: m[1], id: m[2], ext: m[3] } : null;
}

/** Evenly spaced timestamps (seconds), centred in equal slices so neither end (often black) is used. */
export function frameTimestamps(durationSec: number, count: number): number[] {
  if (!(durationSec > 0) || count < 1) return [];
  const slice = durationSec / count;
  return Array.from({ length: count }, (_, i) => Math.round((i + 0.5) * slice * 1000) / 1000);
}

/** Bumped whenever a prompt or the answer schema changes, so cached answers of the old prompt are not reused. */
export const PROMPT_VERSION = 'v1';

/**
 * The cache is per organization: a hit across tenants would tell one stable that another
 * analysed the same file (cacheHit, zero tokens, instant answer). Re-uploads inside an
 * organization still save the AI call.
 */
export const cacheKeyOf = (organizationId: string, videoSha256: string, type: AnalysisType, promptVersion = PROMPT_VERSION) =>
  `${organizationId}:${videoSha256}:${type}:${promptVersion}`;

const COMMON_RULES = [
  'You are an experienced equine professional reviewing still frames taken at even intervals from one video of a horse.',
  'You describe what you observe; you do NOT diagnose. Never name a disease or a lameness grade as a fact.',
  'When anything looks like lameness, pain or discomfort, say so as an observation and recommend an examination by a veterinarian.',
  'If the frames do not show enough (horse not visible, too dark, too far away), say it in the comments and lower your confidence.',
  'Scores are 0-100 (higher is better). confidence is 0-1 and reflects how well the frames support your observations.',
  'Answer with JSON only, exactly in the requested schema.',
].join('\n');

/** Expert prompts per type (seed: what the expert looks for). */
export const ANALYSIS_PROMPTS: Record<AnalysisType, { focus: string; categories: string[] }> = {
  locomotion: {
    focus:
      'Assess locomotion: regularity and rhythm of the gait, symmetry of left and right limbs, head and pelvis movement, ' +
      'stride length, and any sign that could indicate lameness (head nod, hip hike, shortened stride). ' +
      'Give a regularity score and recommendations; for any asymmetry recommend a veterinary lameness examination.',
    categories: ['regularity', 'symmetry', 'stride', 'lameness signs'],
  },
  jumping: {
    focus:
      'Assess jumping technique: approach, take-off point, trajectory (bascule), front and hind limb technique, landing, ' +
      'and the rider position and balance over the fence. List concrete improvements for horse and rider.',
    categories: ['approach', 'trajectory', 'limb technique', 'rider position'],
  },
  dressage: {
    focus:
      'Assess dressage work: the movements shown, regularity and quality of the gaits, impulsion, straightness, ' +
      'outline and contact, and the rider-horse connection. Give marks per criterion as scores.',
    categories: ['gaits', 'impulsion', 'straightness', 'connection'],
  },
  behavior: {
    focus:
      'Assess behaviour: attitude, ear and tail carriage, facial expression, tension, and signs of discomfort or stress ' +
      '(pinned ears, tail swishing, teeth grinding expressions, head tossing). Recommend a vet when signs suggest pain.',
    categories: ['attitude', 'stress signs', 'discomfort signs'],
  },
  conformation: {
    focus:
      'Assess conformation (morphology): overall balance and proportions, topline, neck set, shoulder and hip angles, ' +
      'limb alignment and hoof-pastern axis, as far as the frames allow.',
    categories: ['balance', 'topline', 'forelimbs', 'hindlimbs'],
  },
};

export function buildPrompt(type: AnalysisType, frameCount: number): { system: string; user: string } {
  const p = ANALYSIS_PROMPTS[type];
  return {
    system: COMMON_RULES,
    user:
      `Analysis type: ${type}\n` +
      `You receive ${frameCount} frames in chronological order.\n` +
      `${p.focus}\n` +
      `Use these categories (you may add others): ${p.categories.join(', ')}.\n` +
      'Fill globalScore, categories (name, score, comments), strengths, improvements, recommendations and confidence.',
  };
}

/** What the model must answer (the stored result adds aiModel and processingTime). */
export const ModelAnswerSchema = z.strictObject({
  globalScore: z.number().min(0).max(100),
  categories: z
    .array(z.strictObject({ name: z.string().min(1), score: z.number().min(0).max(100), comments: z.array(z.string()) }))
    .min(1),
  strengths: z.array(z.string()),
  improvements: z.array(z.string()),
  recommendations: z.array(z.string()),
  confidence: z.number().min(0).max(1),
});
export type ModelAnswer = z.infer<typeof ModelAnswerSchema>;

/** The stored result (seed shape). */
export const AnalysisResultSchema = ModelAnswerSchema.extend({
  aiModel: z.string(),
  /** Milliseconds the provider took. */
  processingTime: z.number().int().min(0),
});
export type AnalysisResult = z.infer<typeof AnalysisResultSchema>;

/**
 * The JSON schema both providers get for structured output. Range limits are checked by
 * zod after the answer arrives (structured-output modes accept only a subset of JSON schema).
 */
export const MODEL_ANSWER_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['globalScore', 'categories', 'strengths', 'improvements', 'recommendations', 'confidence'],
  properties: {
    globalScore: { type: 'number', description: '0-100' },
    categories: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'score', 'comments'],
        properties: { name: { type: 'string' }, score: { type: 'number', description: '0-100' }, comments: { type: 'array', items: { type: 'string' } } },
      },
    },
    strengths: { type: 'array', items: { type: 'string' } },
    improvements: { type: 'array', items: { type: 'string' } },
    recommendations: { type: 'array', items: { type: 'string' } },
    confidence: { type: 'number', description: '0-1' },
  },
} as const;

/** Parses a model's text answer; tolerates a ```json fence. Returns the zod error text on failure. */
export function parseModelAnswer(text: string): { ok: true; value: ModelAnswer } | { ok: false; error: string } {
  const body = text
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/```$/, '')
    .trim();
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = ModelAnswerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  return { ok: true, value: parsed.data };
}

/** USD per million tokens (input, output), by model prefix. Estimates; unknown models cost null. */
const PRICES: [prefix: string, input: number, output: number][] = [
  ['claude-opus', 15, 75],
  ['claude-sonnet', 3, 15],
  ['claude-haiku', 1, 5],
  ['gpt-4o-mini', 0.15, 0.6],
  ['gpt-4o', 2.5, 10],
  ['gpt-4.1', 2, 8],
];
export function estimateCostUsd(model: string, inputTokens: number, outputTokens: number): number | null {
  const price = PRICES.find(([prefix]) => model.startsWith(prefix));
  if (!price) return null;
  return Math.round(((inputTokens * price[1] + outputTokens * price[2]) / 1_000_000) * 1_000_000) / 1_000_000;
}

/** A valid answer for the local stand-ins (sandbox), built from the requested type. */
export function sandboxAnswer(type: AnalysisType): ModelAnswer {
  const p = ANALYSIS_PROMPTS[type];
  return {
    globalScore: 72,
    categories: p.categories.map((name, i) => ({ name, score: 65 + i * 5, comments: [`Sandbox observation about ${name}.`] })),
    strengths: ['Sandbox result: calm and consistent movement in the frames'],
    improvements: ['Sandbox result: not produced by a real model'],
    recommendations: ['This is a sandbox result. For any sign of lameness or discomfort, consult a veterinarian.'],
    confidence: 0.5,
  };
}

/** Who ended an analysis row: its workflow, the API (start failed, cancel without workflow) or the reconcile. */
export const ANALYSIS_CLOSERS = ['workflow', 'api', 'reconcile'] as const;
export type AnalysisCloser = (typeof ANALYSIS_CLOSERS)[number];

/** How long an `Idempotency-Key` of POST /api/analyses answers with the analysis it created. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;
/** Idempotency-Key header: printable ASCII, 1-255 characters (a UUID is typical). */
export const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

/** Workflow progress, as the progress query reports it. */
export const ANALYSIS_STAGES = ['queued', 'probing', 'cache', 'extracting', 'analyzing', 'fallback', 'saving', 'notifying', 'done', 'failed', 'canceled'] as const;
export type AnalysisStage = (typeof ANALYSIS_STAGES)[number];
export const STAGE_PERCENT: Record<AnalysisStage, number> = {
  queued: 0,
  probing: 5,
  cache: 20,
  extracting: 25,
  analyzing: 45,
  fallback: 65,
  saving: 90,
  notifying: 95,
  done: 100,
  failed: 100,
  canceled: 100,
};

export const TYPE_LABEL: Record<AnalysisType, string> = {
  locomotion: 'locomotion',
  jumping: 'jumping',
  dressage: 'dressage',
  behavior: 'behaviour',
  conformation: 'conformation',
};

export function analysisCompletedMessage(a: { horseName: string; type: AnalysisType; globalScore: number; analysisId: string }): MessageText {
  return {
    subject: `Your ${TYPE_LABEL[a.type]} analysis of ${a.horseName} is ready`,
    text:
      `The ${TYPE_LABEL[a.type]} analysis of ${a.horseName} is ready: overall score ${Math.round(a.globalScore)}/100.\n\n` +
      `Open it in the app (analysis ${a.analysisId}). These are observations, not a diagnosis: ` +
      'for any sign of lameness or discomfort, talk to your veterinarian.\n\n— The Horse Tempo team',
  };
}

export function analysisFailedMessage(a: { horseName: string; type: AnalysisType; reason: string; analysisId: string; credits: number; charged: boolean }): MessageText {
  return {
    subject: `Your ${TYPE_LABEL[a.type]} analysis of ${a.horseName} could not be completed`,
    text:
      `We could not complete the ${TYPE_LABEL[a.type]} analysis of ${a.horseName} (analysis ${a.analysisId}): ${a.reason}\n\n` +
      `${creditsLine(a.credits, a.charged)} You can try again later.\n\n— The Horse Tempo team`,
  };
}

/** What the user is told about the credits of an analysis that did not complete. */
export function creditsLine(credits: number, charged: boolean): string {
  const n = `${credits} credit${credits === 1 ? ' was' : 's were'}`;
  return charged ? `Your ${n} charged: an AI provider had already processed the video.` : `Your ${n} not charged.`;
}

/**
 * Whether an analysis that did not complete still costs its credits. Each AI answer costs us
 * a vision call, so free retries of crafted frames or cancel-while-analyzing would let anyone
 * burn our AI spend. Nothing is charged when we fail before any provider call or the providers
 * are down (errors, timeouts, no answer); the credits are charged once a provider answered
 * (even with output that failed validation), or when the user cancels after a provider call began.
 */
export function chargeUnfinishedAnalysis(a: { providerAnswered: boolean; providerCalled: boolean; canceledByUser: boolean }): boolean {
  return a.providerAnswered || (a.canceledByUser && a.providerCalled);
}
