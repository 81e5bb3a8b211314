/** Content sniffing without ffmpeg (the API uses it before accepting an analysis). */

/** MPEG-TS: 188-byte packets, each starting with the sync byte 0x47. */
const TS_PACKET = 188;
const TS_SYNC = 0x47;
/** Packets checked: one `G` at offset 0 is ordinary text; three sync bytes 188 apart are not. */
const TS_PACKETS_CHECKED = 3;
/** Bytes a caller must pass for an MPEG-TS file to be recognised. */
export const SNIFF_BYTES = 512;

/** Well-known container signatures: enough to turn away a non-video upload before any work. */
export function looksLikeVideo(head: Buffer): boolean {
  if (head.length < 12) return false;
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (ascii(4, 8) === 'ftyp') return true; // MP4, MOV, 3GP
  if (head.readUInt32BE(0) === 0x1a45dfa3) return true; // Matroska, WebM
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return true;
  if (head.readUInt32BE(0) === 0x000001ba || head.readUInt32BE(0) === 0x000001b3) return true; // MPEG-PS / ES
  if (looksLikeMpegTs(head)) return true;
  if (ascii(4, 8) === 'moov' || ascii(4, 8) === 'mdat' || ascii(4, 8) === 'wide' || ascii(4, 8) === 'free') return true; // old QuickTime
  return false;
}

/** Sync bytes at 0, 188 and 376 (so at least 377 bytes are needed). */
export function looksLikeMpegTs(head: Buffer): boolean {
  if (head.length < (TS_PACKETS_CHECKED - 1) * TS_PACKET + 1) return false;
  for (let i = 0; i < TS_PACKETS_CHECKED; i++) if (head[i * TS_PACKET] !== TS_SYNC) return false;
  return true;
}
