/**
 * What a database row may keep of a failed object-storage call (storage_orphans.last_error):
 * the error's class and HTTP status. Never its message: S3 and network errors quote the
 * bucket, the key, hosts and request ids; the log line next to the write gets the message.
 */
export function storageFailureText(err: unknown): string {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null | undefined;
  const name = typeof e?.name === 'string' && /^[A-Za-z]{1,60}$/.test(e.name) ? e.name : 'Error';
  const status = typeof e?.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  return `the object storage call failed (${name}${status ? `, HTTP ${status}` : ''})`;
}
