import { waitFor } from './wait';
/** A small JSON client over fetch, for driving the API like a real client does. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function apiClient(baseUrl: string) {
  async function call<T = any>(method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string | Buffer } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(path: string, token?: string) => call<T>('GET', path, { token }),
    post: <T = any>(path: string, body?: unknown, token?: string) => call<T>('POST', path, { body, token }),
    patch: <T = any>(path: string, body?: unknown, token?: string) => call<T>('PATCH', path, { body, token }),
    put: <T = any>(path: string, body?: unknown, token?: string) => call<T>('PUT', path, { body, token }),
    delete: <T = any>(path: string, token?: string) => call<T>('DELETE', path, { token }),
  };
}
export type ApiClient = ReturnType<typeof apiClient>;

let n = 0;
export const uniqueEmail = (tag = 'user') => `${tag}.${Date.now().toString(36)}.${process.pid}.${++n}@example.test`;

/** Registers a fresh user and returns its tokens and profile. */
export async function registerUser(api: ApiClient, overrides: Partial<{ email: string; password: string; firstName: string; lastName: string }> = {}) {
  const input = { email: uniqueEmail(), password: 'Str0ngPassw0rd', firstName: 'Ada', lastName: 'Rider', ...overrides };
  const res = await api.post('/api/auth/register', input);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...input, accessToken: res.body.accessToken as string, refreshToken: res.body.refreshToken as string, user: res.body.user };
}

/** Polls until check() returns a truthy value, or fails after timeoutMs. */
export function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  return waitFor(what, check, { timeoutMs, intervalMs: 200 });
}

/** Captured emails, as the Resend stand-in records them (stack.resend). */
interface Outbox {
  emails: { to: string[]; subject: string; text?: string }[];
}

/**
 * The token of the newest emailed link of this kind sent to `to`, read from the email the
 * Resend stand-in received (waits for it). `after` skips links already seen.
 */
export async function emailedLinkToken(resend: Outbox, to: string, kind: 'verify-email' | 'reset-password', after = 0): Promise<string> {
  const pattern = new RegExp(`/${kind}#token=(hta_[A-Za-z0-9_-]+)`);
  return waitFor(`a ${kind} email to ${to}`, async () => {
    const tokens = resend.emails.filter((e) => e.to.includes(to)).flatMap((e) => pattern.exec(e.text ?? '')?.[1] ?? []);
    return tokens.length > after ? tokens[tokens.length - 1] : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
}

/**
 * Registers a user and confirms the address through the real verification link (emailed by
 * the worker through the outbox and the Resend stand-in), like a person would. The stack
 * must run the accounts queue's worker.
 */
export async function registerVerifiedUser(api: ApiClient, resend: Outbox, overrides: Parameters<typeof registerUser>[1] = {}) {
  const reg = await registerUser(api, overrides);
  const token = await emailedLinkToken(resend, reg.email, 'verify-email');
  const confirmed = await api.post('/api/auth/verification/confirm', { token });
  if (confirmed.status !== 200) throw new Error(`verification failed: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  const me = await api.get('/api/auth/me', reg.accessToken);
  return { ...reg, user: me.body };
}
