import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { FRAME_MAX_EDGE_PX } from '../../domain/analysis';

/**
 * Which ffmpeg/ffprobe to run. The dev stack and the tests use the static builds from the
 * npm packages @ffmpeg-installer/* (devDependencies); the production image installs
 * Debian's maintained ffmpeg and sets FFMPEG_PATH/FFPROBE_PATH (config/), which the worker
 * passes to useMediaBinaries() at start.
 */
async function packagedBinary(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): Promise<string | undefined> {
  try {
    return ((await import(pkg)) as { default: { path: string } }).default.path;
  } catch {
    return undefined; // not installed (production install): FFMPEG_PATH/FFPROBE_PATH must say where
  }
}
export let ffmpegPath = (await packagedBinary('@ffmpeg-installer/ffmpeg')) ?? 'ffmpeg';
export let ffprobePath = (await packagedBinary('@ffprobe-installer/ffprobe')) ?? 'ffprobe';
ffmpeg.setFfmpegPath(ffmpegPath);
ffmpeg.setFfprobePath(ffprobePath);

/** Points the media adapter at other ffmpeg/ffprobe binaries (FFMPEG_PATH, FFPROBE_PATH). */
export function useMediaBinaries(paths: { ffmpeg?: string; ffprobe?: string }): void {
  if (paths.ffmpeg) ffmpeg.setFfmpegPath((ffmpegPath = paths.ffmpeg));
  if (paths.ffprobe) ffmpeg.setFfprobePath((ffprobePath = paths.ffprobe));
}

/** The file is not something we can analyse; the message says why (shown to the user). */
export class InvalidVideoError extends Error {
  override name = 'InvalidVideoError';
}

export interface VideoInfo {
  durationSec: number;
  width: number;
  height: number;
  codec: string;
  format: string;
}

/** The ffmpeg/ffprobe process ran and refused the input (vs. could not be started at all). */
const refusedInput = (err: Error) => /exited with code/.test(err.message);
/** The last line of ffmpeg's stderr that says something (fluent-ffmpeg appends stderr to the message). */
function ffmpegReason(err: Error): string {
  const lines = err.message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/exited with code/.test(l) && !/^(ffmpeg|ffprobe) version|^built with|^configuration:|^lib\w+ /.test(l));
  return (lines.at(-1) ?? 'unknown error').replace(/^\S+: /, '').slice(0, 200);
}

/**
 * ffprobe: is it a video, how long, how large. A file ffprobe cannot parse, without a video
 * stream or of zero length throws InvalidVideoError with a clear reason; ffprobe itself
 * failing to start is an ordinary (retryable) error.
 */
export function probeVideo(path: string): Promise<VideoInfo> {
  return new Promise((resolve, reject) => {
    ffmpeg.ffprobe(path, (err, data) => {
      if (err) {
        if (!refusedInput(err)) return reject(err);
        return reject(new InvalidVideoError(`the file is not a readable video (ffprobe: ${ffmpegReason(err)})`));
      }
      const stream = data.streams.find((s) => s.codec_type === 'video' && s.codec_name !== 'mjpeg' && s.codec_name !== 'png');
      if (!stream) return reject(new InvalidVideoError('the file has no video stream'));
      const duration = Number(data.format.duration ?? stream.duration);
      if (!Number.isFinite(duration) || duration <= 0) return reject(new InvalidVideoError('the video has zero length'));
      resolve({
        durationSec: duration,
        width: stream.width ?? 0,
        height: stream.height ?? 0,
        codec: stream.codec_name ?? 'unknown',
        format: data.format.format_name ?? 'unknown',
      });
    });
  });
}

/** Scales down so the longer edge is at most maxEdge, never up; keeps even dimensions. */
export const scaleFilter = (maxEdge = FRAME_MAX_EDGE_PX) =>
  `scale='if(gte(iw,ih),min(${maxEdge},iw),-2)':'if(gte(iw,ih),-2,min(${maxEdge},ih))'`;

function runFfmpeg(command: ffmpeg.FfmpegCommand, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => command.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    command
      .on('error', (err: Error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? new Error('frame extraction cancelled') : err);
      })
      .on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      })
      .run();
  });
}

/**
 * One JPEG per timestamp, each decoded with input seeking (`-ss` before `-i`): ffmpeg jumps
 * to the keyframe before the timestamp and decodes only from there, instead of decoding the
 * whole video. `onFrame` is called after each frame (progress, heartbeats).
 */
export async function extractFrames(
  path: string,
  timestamps: number[],
  opts: { outDir: string; maxEdge?: number; signal?: AbortSignal; onFrame?: (index: number) => void },
): Promise<Buffer[]> {
  await mkdir(opts.outDir, { recursive: true });
  const frames: Buffer[] = [];
  for (const [i, t] of timestamps.entries()) {
    const file = join(opts.outDir, `frame-${String(i).padStart(3, '0')}.jpg`);
    const command = ffmpeg(path)
      .inputOptions(['-ss', t.toFixed(3)])
      .outputOptions(['-frames:v', '1', '-vf', scaleFilter(opts.maxEdge), '-q:v', '3', '-an'])
      .output(file);
    await runFfmpeg(command, opts.signal).catch((err: Error) => {
      if (opts.signal?.aborted || !refusedInput(err)) throw err;
      throw new InvalidVideoError(`no frame could be decoded at ${t.toFixed(1)} s (ffmpeg: ${ffmpegReason(err)})`);
    });
    frames.push(await readFile(file));
    opts.onFrame?.(i);
  }
  return frames;
}

/** The naive method, for the benchmark: decode the whole video once and keep N frames with the fps filter. */
export async function extractFramesFullDecode(path: string, count: number, durationSec: number, opts: { outDir: string; maxEdge?: number }): Promise<Buffer[]> {
  await rm(opts.outDir, { recursive: true, force: true });
  await mkdir(opts.outDir, { recursive: true });
  const command = ffmpeg(path)
    .outputOptions(['-vf', `fps=${count}/${durationSec},${scaleFilter(opts.maxEdge)}`, '-frames:v', String(count), '-q:v', '3', '-an'])
    .output(join(opts.outDir, 'frame-%03d.jpg'));
  await runFfmpeg(command);
  const files = (await readdir(opts.outDir)).filter((f) => f.endsWith('.jpg')).sort();
  return Promise.all(files.map((f) => readFile(join(opts.outDir, f))));
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Generates a test clip with ffmpeg's testsrc (tests and benchmarks). `realistic` adds
 * temporal noise and encodes like a camera (veryfast, B-frames), so decoding costs what a
 * real clip costs; the default is tiny and quick to make.
 */
export async function generateTestVideo(path: string, opts: { seconds: number; width?: number; height?: number; fps?: number; realistic?: boolean }): Promise<void> {
  const size = `${opts.width ?? 320}x${opts.height ?? 240}`;
  const fps = opts.fps ?? 25;
  const command = ffmpeg()
    .input(`testsrc=duration=${opts.seconds}:size=${size}:rate=${fps}`)
    .inputFormat('lavfi')
    .outputOptions([
      ...(opts.realistic ? ['-vf', 'noise=alls=12:allf=t', '-preset', 'veryfast', '-b:v', '8M'] : ['-preset', 'ultrafast']),
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-g',
      String(fps * 2),
    ])
    .output(path);
  await runFfmpeg(command);
}

export { looksLikeVideo } from './sniff';
