import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_MEDIA_OPTIONS } from '../../adapters/media/ffmpeg';

/** Width and height from a JPEG's SOF marker (no decoder needed). */
export function jpegSize(jpeg: Buffer): { width: number; height: number } {
  let i = 2;
  while (i + 9 < jpeg.length) {
    if (jpeg[i] !== 0xff) throw new Error(`not a JPEG marker at ${i}`);
    const marker = jpeg[i + 1];
    const len = jpeg.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker in the JPEG');
}

/**
 * Where the white bar of a generateTimeBarVideo frame is: decodes the JPEG to grey pixels
 * with ffmpeg and returns the mean x of the bright columns of the middle row.
 */
export async function barPosition(jpeg: Buffer, dir: string, name: string): Promise<number> {
  const file = join(dir, `${name}.jpg`);
  await writeFile(file, jpeg);
  const { width, height } = jpegSize(jpeg);
  const { stdout } = await promisify(execFile)(DEFAULT_MEDIA_OPTIONS.ffmpegPath, ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
    encoding: 'buffer',
    maxBuffer: 64 << 20,
  });
  const row = stdout.subarray(Math.floor(height / 2) * width, Math.floor(height / 2) * width + width);
  const bright = [...row.keys()].filter((x) => row[x] > 128);
  if (!bright.length) throw new Error(`no bar in frame ${name}`);
  return bright.reduce((a, b) => a + b, 0) / bright.length;
}
