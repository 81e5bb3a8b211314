/**
 * Whether a failed COMMIT may have committed after all. Postgres answers a COMMIT it refused
 * (a deferred constraint, a serialization failure) with an error carrying a SQLSTATE: the
 * transaction is rolled back, for certain. When the connection drops before the answer
 * (no SQLSTATE: "Connection terminated unexpectedly", ECONNRESET), or the server reports a
 * connection or shutdown class, the transaction may have committed: the caller cannot know,
 * and must not undo side effects (delete a stored object) on the guess that it did not.
 */
export function commitOutcomeUnknown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  // 08 connection exception, 57 operator intervention (admin/crash shutdown), 58 system error,
  // XX internal error, 40003 statement completion unknown.
  return ['08', '57', '58', 'XX'].includes(code.slice(0, 2)) || code === '40003';
}
