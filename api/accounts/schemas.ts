import { z } from 'zod';
import { chars, emailInput, text, unprocessable } from '../http/input-policy';
import { passwordProblems, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PASSWORD_PATTERN } from '../../domain/password';
import { PLANS } from '../../domain/plans';
import { API_KEY_SCOPES } from '../../domain/api-keys';

const email = emailInput();
const strongPassword = z
  .string()
  .superRefine((value, ctx) => {
    const problems = passwordProblems(value);
    if (problems.length) ctx.addIssue({ code: 'custom', message: `password ${problems.join(', ')}` });
  })
  .openapi({ type: 'string', pattern: PASSWORD_PATTERN, minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
const name = text({ max: 100 });
/** A password to check against the stored hash: any characters, counted as the document counts them. */
const givenPassword = chars(1, PASSWORD_MAX_LENGTH);

export const RegisterBody = z.strictObject({ email, password: strongPassword, firstName: name, lastName: name }).openapi('RegisterRequest');
export const LoginBody = z.strictObject({ email, password: givenPassword }).openapi('LoginRequest');
export const RefreshBody = z.strictObject({ refreshToken: chars(10, 200) }).openapi('RefreshRequest');
export const ChangePasswordBody = z
  .strictObject({ currentPassword: givenPassword, newPassword: strongPassword })
  .openapi('ChangePasswordRequest');
export const CreateApiKeyBody = z.strictObject({
  name: text({ max: 100 }),
  /** A stolen 15-minute access token must not be enough to mint a long-lived key. */
  currentPassword: givenPassword,
  scopes: z
    .array(z.enum(API_KEY_SCOPES, { message: `must be one of ${API_KEY_SCOPES.join(', ')}` }))
    .min(1, 'name at least one scope')
    .transform((s) => [...new Set(s)]),
  expiresAt: z.coerce
    .date()
    .refine((d) => d.getTime() > Date.now(), unprocessable('must be in the future'))
    .optional(),
});

/** An emailed link's token (`hta_…`); kept out of URLs so it never reaches access logs. */
const linkToken = z.string().regex(/^hta_[A-Za-z0-9_-]{43}$/, 'must be the token from the emailed link (hta_…)');
export const VerifyEmailBody = z.strictObject({ token: linkToken }).openapi('VerifyEmailRequest');
export const PasswordResetRequestBody = z.strictObject({ email }).openapi('PasswordResetRequest');
export const PasswordResetBody = z.strictObject({ token: linkToken, newPassword: strongPassword }).openapi('PasswordResetConfirmRequest');
export const Accepted = z.object({ message: z.string() }).openapi('Accepted');

export const UserView = z
  .object({
    id: z.uuid(),
    email: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    plan: z.enum(PLANS),
    emailVerified: z.boolean(),
    actionsRequired: z
      .array(z.object({ action: z.enum(['verify-email']), message: z.string() }))
      .describe('What the account must still do; empty when nothing is pending'),
    defaultOrganizationId: z.uuid().nullable(),
    organizations: z.array(z.object({ organizationId: z.uuid(), role: z.string() })),
    credits: z.object({ balance: z.number().int(), reserved: z.number().int() }).optional(),
  })
  .openapi('User');

export const TokenPair = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().describe('access token lifetime in seconds'),
    user: UserView,
  })
  .openapi('TokenPair');
