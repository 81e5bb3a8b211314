/** Content sniffing without ffmpeg (the API uses it before accepting an analysis). */
/** Well-known container signatures: enough to turn away a non-video upload before any work. */
export function looksLikeVideo(head: Buffer): boolean {
  if (head.length < 12) return false;
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (ascii(4, 8) === 'ftyp') return true; // MP4, MOV, 3GP
  if (head.readUInt32BE(0) === 0x1a45dfa3) return true; // Matroska, WebM
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return true;
  if (head.readUInt32BE(0) === 0x000001ba || head.readUInt32BE(0) === 0x000001b3) return true; // MPEG-PS / ES
  if (head[0] === 0x47 && (head.length < 189 || head[188] === 0x47)) return true; // MPEG-TS
  if (ascii(4, 8) === 'moov' || ascii(4, 8) === 'mdat' || ascii(4, 8) === 'wide' || ascii(4, 8) === 'free') return true; // old QuickTime
  return false;
}
