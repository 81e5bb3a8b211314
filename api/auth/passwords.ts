import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id; the enum is a const enum, which isolatedModules cannot read.
const ARGON2ID = 2;

/** argon2id, OWASP's recommended parameters (19 MiB, 2 passes, 1 lane) by default. */
export async function hashPassword(password: string, memoryCost = 19456): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, memoryCost, timeCost: 2, parallelism: 1 });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Verified against when the email is unknown, so a login takes as long either way.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword('not-a-real-password-0');
  return dummyHash;
}
