/**
 * Test and benchmark clips made by ffmpeg from its own synthetic sources (lavfi): trusted
 * input, so none of the upload hardening applies here. Never used on user files.
 */
import ffmpeg from 'fluent-ffmpeg';
import { DEFAULT_MEDIA_OPTIONS } from './ffmpeg';

const ffmpegPath = () => process.env.MEDIA_FFMPEG_PATH || DEFAULT_MEDIA_OPTIONS.ffmpegPath;

/** Runs a trusted ffmpeg command to completion. */
export function runTrusted(command: ffmpeg.FfmpegCommand): Promise<void> {
  return new Promise((resolve, reject) => {
    command
      .setFfmpegPath(ffmpegPath())
      .on('error', (err: Error) => reject(err))
      .on('end', () => resolve())
      .run();
  });
}

/**
 * A clip of ffmpeg's testsrc. `realistic` adds temporal noise and encodes like a camera
 * (veryfast, 8 Mb/s, B-frames), so decoding costs what a real clip costs; the default is tiny
 * and quick to make. `gopSeconds` is the keyframe interval (default 2 s).
 */
export async function generateTestVideo(
  path: string,
  opts: { seconds: number; width?: number; height?: number; fps?: number; realistic?: boolean; gopSeconds?: number },
): Promise<void> {
  const size = `${opts.width ?? 320}x${opts.height ?? 240}`;
  const fps = opts.fps ?? 25;
  await runTrusted(
    ffmpeg()
      .input(`testsrc=duration=${opts.seconds}:size=${size}:rate=${fps}`)
      .inputFormat('lavfi')
      .outputOptions([
        ...(opts.realistic ? ['-vf', 'noise=alls=12:allf=t', '-preset', 'veryfast', '-b:v', '8M'] : ['-preset', 'ultrafast']),
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
        '-g',
        String(Math.max(1, Math.round(fps * (opts.gopSeconds ?? 2)))),
      ])
      .output(path),
  );
}

/**
 * A clip whose picture says what time it is: a white bar on black moving `pxPerSecond` to
 * the right, so a test can read from an extracted frame which moment it shows.
 */
export async function generateTimeBarVideo(path: string, opts: { seconds: number; pxPerSecond: number; gopSeconds: number; fps?: number }): Promise<void> {
  const fps = opts.fps ?? 25;
  const width = 2 * Math.ceil((opts.seconds * opts.pxPerSecond + 16) / 2); // x264 needs even sizes
  await runTrusted(
    ffmpeg()
      .input(`color=c=black:s=${width}x64:r=${fps}:d=${opts.seconds}[bg];color=c=white:s=4x64:r=${fps}[bar];[bg][bar]overlay=x='t*${opts.pxPerSecond}':y=0:eval=frame:shortest=1`)
      .inputFormat('lavfi')
      .outputOptions(['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(Math.round(fps * opts.gopSeconds)), '-sc_threshold', '0'])
      .output(path),
  );
}

/**
 * Copies a clip `times` times end to end without re-encoding (ffmpeg's concat demuxer on a
 * list we write ourselves): a long clip that decodes like the short one, in seconds instead of
 * the minutes an encode takes.
 */
export async function repeatClip(src: string, dst: string, times: number, listFile: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(listFile, `ffconcat version 1.0\n${Array.from({ length: times }, () => `file '${src.replace(/'/g, "'\\''")}'`).join('\n')}\n`);
  await runTrusted(ffmpeg().input(listFile).inputOptions(['-f', 'concat', '-safe', '0']).outputOptions(['-c', 'copy']).output(dst));
}
