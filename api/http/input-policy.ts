import { z } from 'zod';
import './openapi'; // extends zod with .openapi()

/**
 * The one text and URL policy of every request schema. Each helper validates at run time
 * and states the same rule in the OpenAPI document (pattern, lengths), so a client — or a
 * contract fuzzer — that follows the document is never refused, and one that does not is
 * refused with a 400 naming the field:
 *
 * - text: no control characters (NUL breaks Postgres text; the others break logs, CSV
 *   exports and terminals) except newline, carriage return and tab in multi-line fields;
 *   trimmed; lengths counted in characters (code points), as JSON Schema counts them
 *   (codePoints; chars() for strings with no other rule).
 * - media URLs: https to a public domain name, no IP literals (169.254.169.254, 10/8,
 *   192.168/16, ::1 …), no localhost or internal names, no credentials.
 */

/** C0 controls, DEL and C1 controls. */
const CONTROL = '\\x00-\\x1F\\x7F-\\x9F';
/** The same, minus tab, newline and carriage return. */
const CONTROL_MULTILINE = '\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F';
/** What String.prototype.trim removes besides the controls above. */
const TRIMMED_SPACE = ' \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF';

/** One message for single- and multi-line fields (the document's pattern says which controls a field allows). */
export const CONTROL_CHARACTERS_MESSAGE = 'must not contain control characters such as NUL';

/**
 * The length of a string in characters (code points), which is what the document's
 * minLength/maxLength mean (JSON Schema counts characters). Never String.length: that counts
 * UTF-16 units, so an emoji is 2 and a value the document allows would be refused with a 400.
 * Every length rule of a request schema counts this way (text, chars, mediaUrl, passwords).
 */
export const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/**
 * A string of min..max characters (code points) and no other rule, for secrets the server
 * compares rather than stores as text (a password to check, a refresh token): not trimmed,
 * any character. zod's .min/.max would count UTF-16 units.
 */
export function chars(min: number, max: number) {
  return z
    .string()
    .refine((s) => codePoints(s) >= min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`)
    .refine((s) => codePoints(s) <= max, `must be at most ${max} characters`)
    .openapi({ minLength: min, maxLength: max });
}

export interface TextOptions {
  max: number;
  /** Characters required after trimming; default 1 (not blank). 0 allows an empty string. */
  min?: number;
  /** Allow newline, carriage return and tab inside the text. */
  multiline?: boolean;
  /** Message for a too-short value. */
  minMessage?: string;
}

/**
 * The document's pattern for a text field: only allowed characters, and (min ≥ 1) two
 * non-space characters at least min - 2 apart, which is what "trimmed length ≥ min" means.
 */
export function textPattern(opts: Pick<TextOptions, 'min' | 'multiline'>): string {
  const allowed = `[^${opts.multiline ? CONTROL_MULTILINE : CONTROL}]`;
  const solid = `[^${CONTROL}${TRIMMED_SPACE}]`;
  const min = opts.min ?? 1;
  if (min <= 0) return `^${allowed}*$`;
  if (min === 1) return `^${allowed}*${solid}${allowed}*$`;
  return `^${allowed}*${solid}${allowed}{${min - 2},}${solid}${allowed}*$`;
}

/** A free-text field under the policy (trimmed on the way in). */
export function text(opts: TextOptions) {
  const min = opts.min ?? 1;
  const controls = new RegExp(`[${opts.multiline ? CONTROL_MULTILINE : CONTROL}]`);
  return z
    .string()
    .refine((s) => !controls.test(s), CONTROL_CHARACTERS_MESSAGE)
    .trim()
    .refine((s) => codePoints(s) >= min, opts.minMessage ?? (min === 1 ? 'must not be empty' : `must be at least ${min} characters`))
    .refine((s) => codePoints(s) <= opts.max, `must be at most ${opts.max} characters`)
    // No `type` in the metadata: with one, zod-to-openapi drops `nullable` from a .nullable() around it.
    .openapi({ pattern: textPattern(opts), ...(min > 0 ? { minLength: min } : {}), maxLength: opts.max });
}

/** An optional text field that may also be cleared with null. */
export const optionalText = (max: number, opts: Omit<TextOptions, 'max'> = {}) => text({ max, ...opts }).nullable().optional();

/** Hosts that name this machine or a private network even though they look like domain names. */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'intranet', 'lan', 'home.arpa', 'corp', 'private'];

/** A TCP port 1–65535, spelled so that a pattern can state the range. */
const PORT = '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
/** https, a public domain name (letters-only TLD, so no IP literal can match), an optional port, then path/query/fragment. */
export const MEDIA_URL_PATTERN =
  `^[Hh][Tt][Tt][Pp][Ss]://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}(?::${PORT})?(?:[/?#][^\\x00-\\x20\\x7F-\\x9F]*)?$`;
const MEDIA_URL = new RegExp(MEDIA_URL_PATTERN);
export const MEDIA_URL_MESSAGE = 'must be an https URL to a public domain name (no IP address, localhost, internal name or credentials)';

/** Why a URL is refused, or null when it is acceptable. Never throws. */
export function mediaUrlProblem(value: string): string | null {
  if (!MEDIA_URL.test(value)) return MEDIA_URL_MESSAGE;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MEDIA_URL_MESSAGE;
  }
  const host = url.hostname.toLowerCase();
  if (url.protocol !== 'https:' || url.username || url.password) return MEDIA_URL_MESSAGE;
  if (INTERNAL_SUFFIXES.some((s) => host === s || host.endsWith(`.${s}`))) return MEDIA_URL_MESSAGE;
  return null;
}

/** A link to an image or video shown to other users. */
export function mediaUrl(max = 2048) {
  return z
    .string()
    .refine((s) => codePoints(s) <= max, `must be at most ${max} characters`)
    .refine((s) => mediaUrlProblem(s) === null, MEDIA_URL_MESSAGE)
    // No `type` in the metadata: with one, zod-to-openapi drops `nullable` from a .nullable() around it.
    .openapi({ pattern: MEDIA_URL_PATTERN, maxLength: max, description: MEDIA_URL_MESSAGE.replace(/^must be an?/, 'An') });
}

export const mediaUrls = (maxItems: number) => z.array(mediaUrl()).max(maxItems, `at most ${maxItems} URLs`);

/**
 * Marks a refinement as a rule the document cannot state (a date relative to today, a
 * combination of fields): a request that breaks only such rules is valid per the
 * document, so it is answered 422, not 400 (api/http/route.ts). Use as the refine
 * options, or spread into ctx.addIssue.
 */
export const unprocessable = (message: string) => ({ message, params: { unprocessable: true } });
export const isUnprocessableIssue = (issue: { code: string; params?: Record<string, unknown> }) =>
  issue.code === 'custom' && issue.params?.unprocessable === true;

/** Any-case spelling of each code, as one pattern (for fields upper-cased on the way in). */
export function anyCasePattern(codes: Iterable<string>, opts: { trimmed?: boolean } = {}): string {
  const any = (c: string) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c);
  const alternatives = [...codes].map((code) => [...code].map(any).join('')).join('|');
  const space = opts.trimmed ? '\\s*' : '';
  return `^${space}(?:${alternatives})${space}$`;
}

/** An email address as clients may send it (surrounding spaces trimmed, any case), for the document. */
export const EMAIL_INPUT_PATTERN = `^\\s*${z.regexes.email.source.slice(1, -1)}\\s*$`;

/** An email address: trimmed and lower-cased on the way in; the document states the same rule. */
export const emailInput = (message = 'must be a valid email address') =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.email({ message }).max(254))
    // A pattern, not format: email: the server trims, and a format checker would not.
    .openapi({ type: 'string', pattern: EMAIL_INPUT_PATTERN, maxLength: 254 });
