import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ALL_TASK_QUEUES } from '../workflows/queues';
import { REMINDER_WINDOW_MAX_MINUTES } from '../domain/reminder-window';

/**
 * The one place that reads process.env. Every setting is validated at start-up so a
 * missing or malformed variable stops the process with its name and what is expected,
 * instead of failing later inside a request or an activity.
 */

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const url = z.url();
const optionalString = z.string().min(1).optional();

/** HH:MM, 24-hour clock. */
export const reminderTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a UTC time of day HH:MM (24-hour), like 08:00');

const DEV_JWT_SECRET = 'dev-only-secret-change-me-in-production-0123456789';

const workerTuning = z
  .object({
    maxConcurrentActivityTaskExecutions: z.number().int().positive().optional(),
    // The SDK needs two workflow slots when sticky queues are on (the default).
    maxConcurrentWorkflowTaskExecutions: z.number().int().min(2).optional(),
    /** Sticky cache size: workflows kept in memory between tasks (0 turns the sticky queue off). */
    maxCachedWorkflows: z.number().int().min(0).optional(),
  })
  .strict();
export type WorkerTuning = z.infer<typeof workerTuning>;

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: port.default(4000),
    HOST: z.string().default('127.0.0.1'),
    PUBLIC_URL: url.optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .default('postgresql://postgres:postgres@127.0.0.1:5432/horse_tempo'),
    DATABASE_POOL_MAX: positiveInt.default(10),
    DATABASE_DEBUG: bool.default(false),
    /** How long the API waits for a pooled connection (or a new one) before answering 503. */
    DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt.default(5),
    /** Postgres statement_timeout for the API's connections: a stuck query cannot hold a request. */
    DATABASE_STATEMENT_TIMEOUT_SECONDS: positiveInt.default(15),

    TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().default('default'),
    TEMPORAL_UI_URL: url.default('http://127.0.0.1:8233'),
    /** Deadline of every Temporal call the API makes inside a request (start, signal, query, describe). */
    TEMPORAL_RPC_TIMEOUT_SECONDS: positiveInt.default(10),
    /**
     * Production Temporal (adapters/temporal/connection.ts). TLS is on when TEMPORAL_TLS=true
     * or any TLS file or the API key is set: the server CA (self-hosted private CA; unset: the
     * system's CAs), the client certificate and key (mTLS), the SNI name when the address is
     * not the certificate's, and Temporal Cloud's API key.
     */
    TEMPORAL_TLS: bool.optional(),
    TEMPORAL_TLS_SERVER_CA_FILE: optionalString,
    TEMPORAL_TLS_CLIENT_CERT_FILE: optionalString,
    TEMPORAL_TLS_CLIENT_KEY_FILE: optionalString,
    TEMPORAL_TLS_SERVER_NAME: optionalString,
    TEMPORAL_API_KEY: optionalString,
    /**
     * Per-queue worker slots and workflow cache, JSON: {"analysis":{"maxConcurrentActivityTaskExecutions":2},
     * "gestation":{"maxCachedWorkflows":250}}. Unset fields keep our defaults (workers/run.ts) or the SDK's.
     */
    WORKER_TUNING: z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (!s) return {};
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON like {"analysis":{"maxConcurrentActivityTaskExecutions":2}}' });
          return z.NEVER;
        }
      })
      .pipe(z.partialRecord(z.enum(ALL_TASK_QUEUES as [string, ...string[]]), workerTuning)),
    /**
     * Temporal SDK metrics of the worker process (task slots, schedule-to-start latency,
     * sticky cache; adapters/temporal/telemetry.ts). Prometheus: set WORKER_METRICS_PORT and
     * scrape http://WORKER_METRICS_HOST:PORT/metrics (the host stays 127.0.0.1 unless a
     * scraper outside the machine needs it, e.g. 0.0.0.0 in a pod). OpenTelemetry instead:
     * WORKER_METRICS_OTEL_URL (grpc:// or http(s)://…/v1/metrics with PROTOCOL=http). Unset: no export.
     */
    WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    WORKER_METRICS_HOST: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IP address to bind, like 127.0.0.1 or 0.0.0.0' }).default('127.0.0.1'),
    WORKER_METRICS_OTEL_URL: z
      .url()
      .regex(/^(grpcs?|https?):\/\//, 'must start with grpc://, grpcs://, http:// or https://')
      .optional(),
    WORKER_METRICS_OTEL_PROTOCOL: z.enum(['grpc', 'http']).default('grpc'),
    /** Comma-separated task queues this worker process polls; empty means all. */
    WORKER_QUEUES: csv.default([]),
    /** Renamed task queues still polled until their runs have drained (workflows/queues.ts LEGACY_TASK_QUEUES). */
    WORKER_LEGACY_QUEUES: csv.default([]),

    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
    JWT_ACCESS_TTL_SECONDS: positiveInt.default(900),
    /** Seconds an API process remembers an authenticated caller (0 = off); see api/accounts/caller-cache.ts. */
    AUTH_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
    REFRESH_TOKEN_TTL_DAYS: positiveInt.default(30),
    PASSWORD_HASH_MEMORY_KIB: positiveInt.default(19456),
    /** The web client's base URL; emailed links (verify, reset, invitation) point there. */
    APP_URL: url.default('http://localhost:3000'),
    /** Lifetime of an email verification link. */
    EMAIL_VERIFICATION_TTL_HOURS: positiveInt.default(48),
    /** Lifetime of a password reset link. */
    PASSWORD_RESET_TTL_MINUTES: positiveInt.default(60),
    /** Lifetime of an organization invitation. */
    INVITATION_TTL_DAYS: positiveInt.default(14),
    /** Verification resends and password reset emails per account per hour (beyond: 429, or silence for resets). */
    ACCOUNT_EMAILS_PER_HOUR: positiveInt.default(3),

    CORS_ORIGINS: csv.default(['http://localhost:3000', 'http://127.0.0.1:3000']),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
    RATE_LIMIT_MAX: positiveInt.default(300),
    AUTH_RATE_LIMIT_MAX: positiveInt.default(20),
    BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 100kb or 1mb').default('100kb'),
    /** Slow clients (api/http/slow-clients.ts): how long the request line + headers may take. */
    HTTP_HEADERS_TIMEOUT_SECONDS: positiveInt.default(20),
    /** How long the whole body of an ordinary (JSON, webhook) request may take to arrive; 408 after. */
    HTTP_BODY_TIMEOUT_SECONDS: positiveInt.default(30),
    /** Streaming uploads (PUT /api/uploads/:token): the longest pause between two chunks; 408 after. */
    HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS: positiveInt.default(30),
    /** Node's server.requestTimeout: the absolute cap on receiving any request, uploads included. */
    HTTP_REQUEST_TIMEOUT_SECONDS: positiveInt.default(3600),
    /** An idle keep-alive connection is closed after this long. */
    HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: positiveInt.default(5),
    /** Open connections one client address may hold; 0 = no cap (e.g. behind a proxy that caps). */
    HTTP_MAX_CONNECTIONS_PER_IP: z.coerce.number().int().min(0).default(64),
    /** Retry-After (seconds) sent with a 503 when the database, Temporal or object storage is unreachable. */
    OUTAGE_RETRY_AFTER_SECONDS: positiveInt.default(5),
    /** Bearer token GET /metrics requires; unset: /metrics answers loopback clients only. */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

    EMAIL_FROM: z.string().default('Horse Tempo <no-reply@horsetempo.local>'),
    RESEND_API_KEY: optionalString,
    RESEND_BASE_URL: url.optional(),

    STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
    STORAGE_DIR: z.string().default('.data/uploads'),
    S3_BUCKET: optionalString,
    S3_REGION: z.string().default('us-east-1'),
    S3_ENDPOINT: url.optional(),
    /** The S3 endpoint as browsers reach it, used in presigned upload URLs; unset: S3_ENDPOINT. */
    S3_PUBLIC_ENDPOINT: url.optional(),
    S3_ACCESS_KEY_ID: optionalString,
    S3_SECRET_ACCESS_KEY: optionalString,
    S3_FORCE_PATH_STYLE: bool.default(true),
    /** S3 connect timeout and socket inactivity timeout per request (a dead endpoint fails fast). */
    S3_REQUEST_TIMEOUT_SECONDS: positiveInt.default(10),
    UPLOAD_MAX_BYTES: positiveInt.default(500 * 1024 * 1024),
    UPLOAD_URL_TTL_SECONDS: positiveInt.default(900),
    /** Health book attachments (passport page, vet invoice): largest file accepted, bytes. */
    HEALTH_ATTACHMENT_MAX_BYTES: positiveInt.default(10 * 1024 * 1024),

    /** ffmpeg and ffprobe of ONE build (Debian's packages by default; scripts/setup.sh installs them). */
    MEDIA_FFMPEG_PATH: z.string().min(1).default('/usr/bin/ffmpeg'),
    MEDIA_FFPROBE_PATH: z.string().min(1).default('/usr/bin/ffprobe'),
    /** ffmpeg/ffprobe processes one worker runs at once. */
    MEDIA_MAX_CONCURRENT: z.coerce.number().int().min(1).max(64).default(2),
    /** Hard limit per ffmpeg/ffprobe process (SIGTERM, then SIGKILL 2 s later). */
    MEDIA_TIMEOUT_SECONDS: positiveInt.default(120),
    /** Largest width and height of an uploaded video. */
    MEDIA_MAX_DIMENSION: z.coerce.number().int().min(64).max(16384).default(4096),
    /** Most frames an uploaded video may declare (600 s at 60 fps). */
    MEDIA_MAX_FRAMES: positiveInt.default(36000),
    /** keyframe: frames snapped to the next keyframe (fast); exact: the frame at each timestamp (decodes up to a GOP per frame). */
    MEDIA_FRAME_SEEK: z.enum(['keyframe', 'exact']).default('keyframe'),

    ANTHROPIC_API_KEY: optionalString,
    ANTHROPIC_BASE_URL: url.optional(),
    OPENAI_API_KEY: optionalString,
    OPENAI_BASE_URL: url.optional(),
    // claude-sonnet-4-5 reaches end-of-life on 2026-11-30 (the SDK's deprecation list).
    AI_MODEL_PRIMARY: z.string().default('claude-sonnet-5-5'),
    AI_MODEL_FALLBACK: z.string().default('gpt-4o'),
    AI_TIMEOUT_SECONDS: positiveInt.default(120),
    AI_CACHE_TTL: z
      .string()
      .regex(/^\d+\s*(s|m|h|d)$/, 'must look like 7d, 12h, 30m or 45s')
      .default('7d'),
    /** Set by the dev stack when the AI URLs point at the local stand-ins. */
    AI_SANDBOX: bool.default(false),
    /** Analyses one account may start per rolling hour (429 with Retry-After beyond). */
    ANALYSIS_STARTS_PER_USER_PER_HOUR: positiveInt.default(20),
    /** Analyses one organization (all its members) may start per rolling hour. */
    ANALYSIS_STARTS_PER_ORG_PER_HOUR: positiveInt.default(60),
    /** Estimated AI spend (USD) one organization may cause per calendar month (UTC); 0 disables the cap (402 beyond). */
    AI_ORG_MONTHLY_SPEND_CAP_USD: z.coerce.number().min(0).default(200),

    STRIPE_SECRET_KEY: optionalString,
    STRIPE_WEBHOOK_SECRET: optionalString,
    /** Points the Stripe SDK at stripe-mock (http://127.0.0.1:12111) in dev and tests. */
    STRIPE_API_BASE: url.optional(),
    STRIPE_PRICE_PREMIUM_MONTHLY: optionalString,
    STRIPE_PRICE_PREMIUM_YEARLY: optionalString,
    STRIPE_PRICE_PRO_MONTHLY: optionalString,
    STRIPE_PRICE_PRO_YEARLY: optionalString,
    BILLING_GRACE_DAYS: positiveInt.default(14),
    BILLING_SUCCESS_URL: url.default('http://localhost:3000/billing/success'),
    BILLING_CANCEL_URL: url.default('http://localhost:3000/billing/cancel'),
    /** A customer-portal configuration (bpc_…) managed in the Stripe dashboard; unset: the API creates and reuses its own. */
    STRIPE_PORTAL_CONFIGURATION: optionalString,
    /** Where the Stripe customer portal sends the user back to. */
    BILLING_PORTAL_RETURN_URL: url.default('http://localhost:3000/billing'),
    /** When the nightly billing-reconcile Schedule runs (cron, UTC). */
    BILLING_RECONCILE_CRON: z.string().regex(/^(\S+\s+){4}\S+$/, 'must be a 5-field cron expression like "30 3 * * *"').default('30 3 * * *'),

    REMINDER_LEAD_DAYS: z.coerce.number().int().min(0).max(60).default(2),
    LISTING_REMINDER_DAYS: z.coerce.number().int().min(0).max(60).default(3),
    /**
     * Time of day (UTC, HH:MM) health and gestation reminders go out on their reminder date.
     * Read by the reminder activities on every database read, so a change reaches each
     * sleeping workflow at its next wake-up (bench/health-workflows.ts sets it to the next
     * minute to make 1,000 reminders fall due at once).
     */
    REMINDER_TIME_UTC: reminderTime.default('08:00'),
    /**
     * The reminder window (minutes, 0–720): a reminder planned at REMINDER_TIME_UTC goes out
     * at REMINDER_TIME_UTC + the subject's offset, a stable whole number of seconds in
     * [0, window) from a hash of the horse (health) or gestation id
     * (domain/reminder-window.ts), so a day's reminders spread over the window instead of
     * all leaving at one instant. 0 = everyone exactly at REMINDER_TIME_UTC. Read by the
     * reminder activities like REMINDER_TIME_UTC (the snapshot carries the offset).
     */
    REMINDER_WINDOW_MINUTES: z.coerce.number().int().min(0).max(REMINDER_WINDOW_MAX_MINUTES).default(30),
    /** Marketplace relevance ranks the N newest matching listings (api/marketplace/search.ts). */
    SEARCH_RELEVANCE_CANDIDATES: z.coerce.number().int().min(20).max(100_000).default(500),
  })
  .superRefine((c, ctx) => {
    if (Boolean(c.TEMPORAL_TLS_CLIENT_CERT_FILE) !== Boolean(c.TEMPORAL_TLS_CLIENT_KEY_FILE)) {
      const missing = c.TEMPORAL_TLS_CLIENT_CERT_FILE ? 'TEMPORAL_TLS_CLIENT_KEY_FILE' : 'TEMPORAL_TLS_CLIENT_CERT_FILE';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'is required too: a client certificate needs its key (and the key its certificate)' });
    }
    for (const name of ['TEMPORAL_TLS_SERVER_CA_FILE', 'TEMPORAL_TLS_CLIENT_CERT_FILE', 'TEMPORAL_TLS_CLIENT_KEY_FILE'] as const) {
      const file = c[name];
      if (file && !existsSync(file)) ctx.addIssue({ code: 'custom', path: [name], message: `names a file that does not exist (${file})` });
    }
    if (c.TEMPORAL_TLS === false && (c.TEMPORAL_API_KEY || c.TEMPORAL_TLS_CLIENT_CERT_FILE || c.TEMPORAL_TLS_SERVER_CA_FILE || c.TEMPORAL_TLS_SERVER_NAME)) {
      ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS'], message: 'is false but TLS files or an API key are set (an API key is only sent over TLS)' });
    }
    if (c.WORKER_METRICS_PORT !== undefined && c.WORKER_METRICS_OTEL_URL) {
      ctx.addIssue({ code: 'custom', path: ['WORKER_METRICS_OTEL_URL'], message: 'and WORKER_METRICS_PORT are both set: the worker exports to Prometheus or to OpenTelemetry, set one' });
    }
    if (c.NODE_ENV === 'production' && c.JWT_SECRET === DEV_JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be set to a secret of your own in production' });
    }
    if (c.HTTP_HEADERS_TIMEOUT_SECONDS > c.HTTP_REQUEST_TIMEOUT_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_SECONDS'], message: 'must not exceed HTTP_REQUEST_TIMEOUT_SECONDS' });
    }
    // A reminder must go out on its reminder date: gestation reminders are missed once their
    // due date is past, and their retries end with the due date.
    const [hours, minutes] = c.REMINDER_TIME_UTC.split(':').map(Number);
    const untilMidnight = 24 * 60 - (hours * 60 + minutes);
    if (c.REMINDER_WINDOW_MINUTES > untilMidnight) {
      ctx.addIssue({
        code: 'custom',
        path: ['REMINDER_WINDOW_MINUTES'],
        message: `must end by midnight UTC (a reminder goes out on its reminder date): with REMINDER_TIME_UTC=${c.REMINDER_TIME_UTC} at most ${untilMidnight}`,
      });
    }
    if (c.STORAGE_DRIVER === 's3' && !c.S3_BUCKET) {
      ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required when STORAGE_DRIVER=s3' });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as "not set", as they do in most .env files. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path.join('.') || '(root)';
        const got = typeof i.path[0] === 'string' ? cleaned[i.path[0]] : undefined;
        return `${name} ${i.message}${got !== undefined && !/SECRET|KEY|PASSWORD/.test(name) ? ` (got "${got}")` : ''}`;
      }),
    );
  }
  return parsed.data;
}

/** Stripe price id for a paid plan and interval, or undefined when not configured. */
export function stripePriceId(config: Config, plan: 'premium' | 'pro', interval: 'month' | 'year'): string | undefined {
  const key = `STRIPE_PRICE_${plan.toUpperCase()}_${interval === 'month' ? 'MONTHLY' : 'YEARLY'}` as const;
  return config[key as keyof Config] as string | undefined;
}
