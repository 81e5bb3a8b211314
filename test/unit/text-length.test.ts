import { expect } from 'chai';
import type { z } from 'zod';
import { OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { createRegistry } from '../../api/http/openapi';
import { chars, codePoints, mediaUrl, text } from '../../api/http/input-policy';
import { ChangePasswordBody, CreateApiKeyBody, LoginBody, RefreshBody, RegisterBody } from '../../api/accounts/schemas';
import { PASSWORD_MAX_LENGTH } from '../../domain/password';

/**
 * One length rule: characters (code points), which is what the document's minLength and
 * maxLength mean in JSON Schema. A rule counting UTF-16 units (String.length, zod's .max)
 * would refuse with a 400 a value of emoji that the document allows.
 */
const HORSE = '🐎'; // one code point, two UTF-16 units

/** The JSON Schema the document states for `schema`. */
function documented(schema: z.ZodType): { properties?: Record<string, { minLength?: number; maxLength?: number }>; minLength?: number; maxLength?: number } {
  const registry = createRegistry();
  registry.register('Subject', schema);
  const components = new OpenApiGeneratorV3(registry.definitions).generateComponents().components as { schemas: Record<string, never> };
  return components.schemas.Subject;
}

describe('Text lengths are counted in characters (code points) everywhere, as the document counts them', () => {
  it('counts an emoji as one character, a combining pair as two', () => {
    expect(HORSE.length).to.equal(2);
    expect(codePoints(HORSE)).to.equal(1);
    expect(codePoints('e\u0301')).to.equal(2);
  });

  it('text(): emoji at the limit pass, one more fails', () => {
    const name = text({ max: 5 });
    expect(name.safeParse(HORSE.repeat(5)).success).to.equal(true);
    const over = name.safeParse(HORSE.repeat(6));
    expect(over.success).to.equal(false);
    expect(over.error?.issues[0].message).to.equal('must be at most 5 characters');
    expect(documented(name).maxLength).to.equal(5);
  });

  it('chars(): emoji at the limit pass, one more fails; the minimum counts the same way', () => {
    const secret = chars(3, 5);
    expect(secret.safeParse(HORSE.repeat(5)).success).to.equal(true);
    expect(secret.safeParse(HORSE.repeat(6)).success).to.equal(false);
    expect(secret.safeParse(HORSE.repeat(3)).success).to.equal(true);
    // Two emoji are 4 UTF-16 units, but 2 characters: too short.
    expect(secret.safeParse(HORSE.repeat(2)).success).to.equal(false);
    expect(documented(secret)).to.include({ minLength: 3, maxLength: 5 });
  });

  it('mediaUrl(): a path of emoji at the limit passes, one more fails', () => {
    const url = mediaUrl(30);
    const base = 'https://example.com/'; // 20 characters
    expect(url.safeParse(base + HORSE.repeat(10)).success).to.equal(true);
    expect(url.safeParse(base + HORSE.repeat(11)).success).to.equal(false);
    expect(documented(url).maxLength).to.equal(30);
  });

  it('passwords to check, new passwords and refresh tokens: emoji at the document maxLength pass, one more fails', () => {
    const atLimit = `Aa1${HORSE.repeat(PASSWORD_MAX_LENGTH - 3)}`;
    const overLimit = `${atLimit}${HORSE}`;
    const login = { email: 'ada@example.com' };
    expect(LoginBody.safeParse({ ...login, password: atLimit }).success).to.equal(true);
    expect(LoginBody.safeParse({ ...login, password: overLimit }).success).to.equal(false);
    expect(ChangePasswordBody.safeParse({ currentPassword: atLimit, newPassword: atLimit }).success).to.equal(true);
    expect(ChangePasswordBody.safeParse({ currentPassword: overLimit, newPassword: atLimit }).success).to.equal(false);
    expect(ChangePasswordBody.safeParse({ currentPassword: atLimit, newPassword: overLimit }).success).to.equal(false);
    expect(CreateApiKeyBody.safeParse({ name: 'ci', currentPassword: atLimit, scopes: ['read'] }).success).to.equal(true);
    expect(CreateApiKeyBody.safeParse({ name: 'ci', currentPassword: overLimit, scopes: ['read'] }).success).to.equal(false);
    expect(RegisterBody.safeParse({ ...login, password: atLimit, firstName: 'Ada', lastName: 'Rider' }).success).to.equal(true);
    expect(RefreshBody.safeParse({ refreshToken: HORSE.repeat(200) }).success).to.equal(true);
    expect(RefreshBody.safeParse({ refreshToken: HORSE.repeat(201) }).success).to.equal(false);

    for (const [schema, field] of [
      [LoginBody, 'password'],
      [ChangePasswordBody, 'currentPassword'],
      [ChangePasswordBody, 'newPassword'],
      [CreateApiKeyBody, 'currentPassword'],
    ] as const) {
      expect(documented(schema).properties?.[field]?.maxLength, field).to.equal(PASSWORD_MAX_LENGTH);
    }
    expect(documented(RefreshBody).properties?.refreshToken).to.include({ minLength: 10, maxLength: 200 });
  });
});
