import { createHash, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface AccessClaims {
  sub: string;
  /** Token version; a password change bumps the user's and old tokens stop working. */
  tv: number;
  typ: 'access';
}

export function signAccessToken(secret: string, ttlSeconds: number, userId: string, tokenVersion: number): string {
  const claims: AccessClaims = { sub: userId, tv: tokenVersion, typ: 'access' };
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: ttlSeconds, issuer: 'horse-tempo' });
}

/** Opaque random token; only its sha256 is stored. */
export function newOpaqueToken(prefix: string): { token: string; hash: string } {
  const token = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { token, hash: sha256(token) };
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
