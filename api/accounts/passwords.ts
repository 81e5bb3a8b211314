import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id; the enum is a const enum, which isolatedModules cannot read.
const ARGON2ID = 2;

export const DEFAULT_PASSWORD_HASH_MEMORY_KIB = 19456;

/** argon2id, OWASP's recommended parameters (19 MiB, 2 passes, 1 lane) by default. */
export async function hashPassword(password: string, memoryCost = DEFAULT_PASSWORD_HASH_MEMORY_KIB): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, memoryCost, timeCost: 2, parallelism: 1 });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Verified against when the email is unknown, so a login takes as long either way. It must
// be hashed with the same memory cost as real hashes (PASSWORD_HASH_MEMORY_KIB): a cheaper
// dummy makes unknown emails answer faster, which tells an attacker which emails exist.
const dummyHashes = new Map<number, Promise<string>>();
export function dummyPasswordHash(memoryCost = DEFAULT_PASSWORD_HASH_MEMORY_KIB): Promise<string> {
  let dummy = dummyHashes.get(memoryCost);
  if (!dummy) {
    dummy = hashPassword('not-a-real-password-0', memoryCost);
    dummyHashes.set(memoryCost, dummy);
  }
  return dummy;
}
