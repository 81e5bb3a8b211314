/** The file is not something we can analyse; the message says why (shown to the user). */
export class InvalidVideoError extends Error {
  override name = 'InvalidVideoError';
}

/** ffmpeg/ffprobe are missing or mismatched: an operations problem, retryable, never the user's fault. */
export class MediaToolsError extends Error {
  override name = 'MediaToolsError';
}
