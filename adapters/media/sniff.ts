/**
 * Content sniffing without ffmpeg: the API uses it before accepting an analysis, and the
 * media adapter uses it to pick the ONE demuxer ffmpeg may use for a file. ffmpeg's own
 * auto-detection is never used on an upload: it would happily open an HLS playlist, an
 * ffconcat list or an image sequence named .mp4 and follow what they point at.
 */

/** MPEG-TS: 188-byte packets, each starting with the sync byte 0x47. */
const TS_PACKET = 188;
const TS_SYNC = 0x47;
/** Packets checked: one `G` at offset 0 is ordinary text; three sync bytes 188 apart are not. */
const TS_PACKETS_CHECKED = 3;
/** Bytes a caller must pass for an MPEG-TS file to be recognised. */
export const SNIFF_BYTES = 512;

/** The containers we decode, each with the one ffmpeg demuxer forced for it. */
export type Container = 'mov' | 'matroska' | 'avi' | 'mpegts' | 'mpeg';

/**
 * The allow-list: demuxer name → what ffprobe may report as format_name for it (a demuxer
 * that reports anything else means ffmpeg did not use the one we forced).
 */
export const CONTAINERS: Record<Container, { demuxer: string; formatName: string; label: string }> = {
  mov: { demuxer: 'mov', formatName: 'mov,mp4,m4a,3gp,3g2,mj2', label: 'MP4/MOV/3GP' },
  matroska: { demuxer: 'matroska', formatName: 'matroska,webm', label: 'Matroska/WebM' },
  avi: { demuxer: 'avi', formatName: 'avi', label: 'AVI' },
  mpegts: { demuxer: 'mpegts', formatName: 'mpegts', label: 'MPEG-TS' },
  mpeg: { demuxer: 'mpeg', formatName: 'mpeg', label: 'MPEG-PS' },
};

/** The container a file's first bytes announce, or null when it is none we accept. */
export function sniffContainer(head: Buffer): Container | null {
  if (head.length < 12) return null;
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (ascii(4, 8) === 'ftyp') return 'mov'; // MP4, MOV, 3GP
  if (head.readUInt32BE(0) === 0x1a45dfa3) return 'matroska'; // Matroska, WebM (EBML header)
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return 'avi';
  if (head.readUInt32BE(0) === 0x000001ba) return 'mpeg'; // MPEG program stream pack header
  if (looksLikeMpegTs(head)) return 'mpegts';
  if (['moov', 'mdat', 'wide', 'free'].includes(ascii(4, 8))) return 'mov'; // old QuickTime without ftyp
  return null;
}

/** Well-known container signatures: enough to turn away a non-video upload before any work. */
export function looksLikeVideo(head: Buffer): boolean {
  return sniffContainer(head) !== null;
}

/** Sync bytes at 0, 188 and 376 (so at least 377 bytes are needed). */
export function looksLikeMpegTs(head: Buffer): boolean {
  if (head.length < (TS_PACKETS_CHECKED - 1) * TS_PACKET + 1) return false;
  for (let i = 0; i < TS_PACKETS_CHECKED; i++) if (head[i * TS_PACKET] !== TS_SYNC) return false;
  return true;
}
