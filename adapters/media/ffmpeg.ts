/**
 * The media adapter: every uploaded video is hostile until proven otherwise.
 *
 * - One ffmpeg build for probe and decode (Debian's maintained packages by default,
 *   MEDIA_FFMPEG_PATH / MEDIA_FFPROBE_PATH to override); a version mismatch is refused.
 * - The container is sniffed from the bytes and its ONE demuxer is forced (`-f`,
 *   `-format_whitelist`); ffmpeg's auto-detection (HLS, concat, image2, …) is never used.
 * - `-protocol_whitelist file` and a `file:` path: no network, no subfile/concat/pipe tricks;
 *   `-enable_drefs 0` for QuickTime's external data references.
 * - Decoders from an allow-list (`-codec_whitelist`), pixels capped in the decoder
 *   (`-max_pixels`), width/height/duration/frame count capped at the probe.
 * - Every process has a hard timeout (SIGTERM, then SIGKILL) and takes a permit of a
 *   per-worker semaphore (MEDIA_MAX_CONCURRENT).
 *
 * fluent-ffmpeg builds and runs the ffmpeg commands (its per-input options map cleanly onto
 * the hardening flags); ffprobe is spawned directly because fluent-ffmpeg's ffprobe cannot be
 * killed or timed out and parses its own text format instead of ffprobe's JSON.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import type { Config } from '../../config';
import { FRAME_MAX_EDGE_PX, MAX_VIDEO_SECONDS } from '../../domain/analysis';
import { InvalidVideoError, MediaToolsError } from './errors';
import { Semaphore } from './semaphore';
import { CONTAINERS, SNIFF_BYTES, sniffContainer, type Container } from './sniff';
import { supervise, type Deadline, type KillFn } from './supervise';

export { InvalidVideoError, MediaToolsError } from './errors';
export { MediaCancelledError, MediaTimeoutError } from './supervise';

/**
 * keyframe: each frame is the first keyframe at or after its timestamp (only keyframes are
 * decoded: one picture per frame; off by up to one GOP, usually 0.5–2 s).
 * exact: the frame at the timestamp (decodes from the previous keyframe up to it: up to a GOP
 * of pictures per frame).
 */
export type FrameSeek = 'keyframe' | 'exact';

export interface MediaOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** Largest width and height accepted; the decoder refuses more than maxDimension² pixels. */
  maxDimension: number;
  maxDurationSec: number;
  /** Most frames a video may declare (duration × frame rate, or the container's count). */
  maxFrames: number;
  /** Hard limit per ffmpeg/ffprobe process. */
  timeoutMs: number;
  killGraceMs: number;
  /** ffmpeg/ffprobe processes running at once in this worker. */
  maxConcurrent: number;
  frameSeek: FrameSeek;
  /** Processes one extraction spreads its frames over (each takes a semaphore permit). */
  frameProcesses: number;
}

export const DEFAULT_MEDIA_OPTIONS: MediaOptions = {
  ffmpegPath: '/usr/bin/ffmpeg',
  ffprobePath: '/usr/bin/ffprobe',
  maxDimension: 4096,
  maxDurationSec: MAX_VIDEO_SECONDS,
  maxFrames: MAX_VIDEO_SECONDS * 60,
  timeoutMs: 120_000,
  killGraceMs: 2_000,
  maxConcurrent: 2,
  frameSeek: 'keyframe',
  frameProcesses: 2,
};

export function mediaOptionsFrom(config: Config): MediaOptions {
  return {
    ...DEFAULT_MEDIA_OPTIONS,
    ffmpegPath: config.MEDIA_FFMPEG_PATH,
    ffprobePath: config.MEDIA_FFPROBE_PATH,
    maxDimension: config.MEDIA_MAX_DIMENSION,
    maxFrames: config.MEDIA_MAX_FRAMES,
    timeoutMs: config.MEDIA_TIMEOUT_SECONDS * 1000,
    maxConcurrent: config.MEDIA_MAX_CONCURRENT,
    frameSeek: config.MEDIA_FRAME_SEEK,
    frameProcesses: Math.min(config.MEDIA_MAX_CONCURRENT, DEFAULT_MEDIA_OPTIONS.frameProcesses),
  };
}

export interface VideoInfo {
  durationSec: number;
  width: number;
  height: number;
  codec: string;
  format: string;
  container: Container;
  /** Frames the video declares (the container's count, or duration × frame rate). */
  frames: number;
}

/** Video decoders we run on uploads (ffmpeg decoder names). */
export const VIDEO_DECODERS = ['h264', 'hevc', 'vp8', 'vp9', 'libdav1d', 'libaom-av1', 'av1', 'mpeg4', 'mpeg2video', 'mpeg1video', 'h263', 'prores'];
/**
 * Audio decoders ffprobe may open while reading stream parameters (a codec outside the
 * whitelist fails the whole probe). Frame extraction never decodes audio (`-an`).
 */
const AUDIO_DECODERS = ['aac', 'aac_fixed', 'mp3float', 'mp3', 'mp2float', 'mp2', 'opus', 'libopus', 'vorbis', 'libvorbis', 'flac', 'alac', 'ac3', 'eac3', 'amrnb', 'amrwb', 'pcm_s16le', 'pcm_s16be', 'pcm_s24le', 'pcm_f32le', 'pcm_mulaw', 'pcm_alaw'];
/** Containers whose header carries every stream's parameters (MPEG-TS/PS and AVI need ffmpeg's stream analysis). */
const HEADER_DESCRIBED = new Set<Container>(['mov', 'matroska']);
/** Streams that are pictures (cover art, thumbnails), not the video. */
const STILL_CODECS = new Set(['mjpeg', 'png', 'bmp', 'gif', 'webp']);

/**
 * The input options every process gets for an upload: the forced demuxer, file-only I/O,
 * allowed decoders, the decoder's pixel cap. Exported so tests can show each layer holds on
 * its own (e.g. the protocol whitelist with the HLS demuxer forced on purpose).
 */
export function guardedInputOptions(container: Container, opts: Pick<MediaOptions, 'maxDimension'>, decoders: string[]): string[] {
  const { demuxer } = CONTAINERS[container];
  return [
    '-protocol_whitelist',
    'file',
    '-f',
    demuxer,
    '-format_whitelist',
    demuxer,
    '-codec_whitelist',
    decoders.join(','),
    '-max_pixels',
    String(opts.maxDimension * opts.maxDimension),
    ...(container === 'mov' ? ['-enable_drefs', '0'] : []),
  ];
}
export const PROBE_DECODERS = [...VIDEO_DECODERS, ...AUDIO_DECODERS];

/** `file:` + absolute path: a path can never be read as a URL or another protocol. */
export const fileUrl = (path: string) => `file:${resolve(path)}`;

/** Scales down so the longer edge is at most maxEdge, never up; keeps even dimensions. */
export const scaleFilter = (maxEdge = FRAME_MAX_EDGE_PX) =>
  `scale='if(gte(iw,ih),min(${maxEdge},iw),-2)':'if(gte(iw,ih),-2,min(${maxEdge},ih))'`;

/** What the user is told about ffmpeg's last meaningful stderr line (never a path of ours). */
export function mediaReason(stderr: string, path?: string): string {
  if (/exceeds specified max pixel count|Picture size \d+x\d+ is invalid/.test(stderr)) return 'the picture is larger than we decode';
  if (/not on whitelist/.test(stderr)) return 'it uses a format, codec or protocol we do not decode';
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/exited with code|^(ffmpeg|ffprobe) version|^built with|^configuration:|^lib\w+ |Last message repeated/.test(l));
  let line = (lines.at(-1) ?? 'unknown error').replace(/^\[[^\]]+\]\s*/, '').replace(/^(ffmpeg|ffprobe) exited with code \d+:?\s*/, '');
  if (path) line = line.split(fileUrl(path)).join('the file').split(resolve(path)).join('the file');
  return line.replace(/^file:\S+: /, '').slice(0, 200);
}

/** First bytes of a file, for sniffing. */
async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** "30000/1001" → 29.97; 0 for "0/0" or garbage. */
function rate(r: string | undefined): number {
  const [n, d] = (r ?? '').split('/').map(Number);
  return n > 0 && d > 0 ? n / d : 0;
}

interface ProbeJson {
  format?: { format_name?: string; duration?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number; duration?: string; nb_frames?: string; avg_frame_rate?: string; r_frame_rate?: string; disposition?: { attached_pic?: number } }>;
}

/** Most bytes of ffprobe output we read: a file with thousands of streams is refused, not parsed. */
const PROBE_OUTPUT_LIMIT = 1 << 20;

export function createMedia(options: Partial<MediaOptions> = {}) {
  const opts: MediaOptions = { ...DEFAULT_MEDIA_OPTIONS, ...options };
  const permits = new Semaphore(opts.maxConcurrent);
  const deadline = (signal?: AbortSignal): Deadline => ({ timeoutMs: opts.timeoutMs, killGraceMs: opts.killGraceMs, signal });

  /** Runs a tool to completion with a permit and the deadline; stdout/stderr captured (bounded). */
  function runTool(label: string, bin: string, args: string[], signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return permits.use(
      () =>
        supervise(label, deadline(signal), (attach) =>
          new Promise((resolvePromise, reject) => {
            const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
            attach((s) => child.kill(s));
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (c: Buffer) => {
              stdout += c.toString();
              if (stdout.length > PROBE_OUTPUT_LIMIT) child.kill('SIGKILL');
            });
            child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-16_384)));
            child.on('error', (err) => reject(new MediaToolsError(`${label}: cannot run ${bin} (${err.message}): install Debian's ffmpeg (apt-get install ffmpeg) or set MEDIA_FFMPEG_PATH / MEDIA_FFPROBE_PATH`)));
            child.on('close', (code, sig) => {
              if (stdout.length > PROBE_OUTPUT_LIMIT) reject(new InvalidVideoError('the file describes more streams than we read'));
              else if (sig) reject(new Error(`${label} was killed by ${sig}`));
              else resolvePromise({ code, stdout, stderr });
            });
          }),
        ),
      signal,
    );
  }

  let tools: Promise<string> | undefined;
  /**
   * Once per process: both binaries run and are the same build (a probe and a decode that
   * disagree about a file is exactly what a crafted file exploits). Returns the version.
   */
  function checkTools(): Promise<string> {
    tools ??= (async () => {
      const version = async (bin: string, name: string) => {
        const out = await runTool(`${name} -version`, bin, ['-version']);
        const m = new RegExp(`^${name} version (\\S+)`).exec(out.stdout);
        if (out.code !== 0 || !m) throw new MediaToolsError(`${bin} is not ${name} (${name} -version printed: ${out.stdout.split('\n')[0] || out.stderr.trim()})`);
        return m[1];
      };
      const [a, b] = await Promise.all([version(opts.ffmpegPath, 'ffmpeg'), version(opts.ffprobePath, 'ffprobe')]);
      if (a !== b) throw new MediaToolsError(`ffmpeg (${a}, ${opts.ffmpegPath}) and ffprobe (${b}, ${opts.ffprobePath}) are different builds: use one build for both`);
      return a;
    })();
    tools.catch(() => (tools = undefined));
    return tools;
  }

  async function containerOf(path: string): Promise<Container> {
    const container = sniffContainer(await readHead(path));
    if (!container) {
      throw new InvalidVideoError(`the file is not a video container we accept (${Object.values(CONTAINERS).map((c) => c.label).join(', ')})`);
    }
    return container;
  }

  /**
   * ffprobe with the demuxer forced from the sniffed bytes, then the caps. A file ffprobe
   * refuses, without a video stream, of zero length, too large, too long or with too many
   * frames throws InvalidVideoError with a clear reason; ffprobe itself not running is a
   * MediaToolsError (retryable).
   */
  async function probe(path: string, signal?: AbortSignal): Promise<VideoInfo> {
    await checkTools();
    const container = await containerOf(path);
    const args = ['-hide_banner', '-v', 'error', ...guardedInputOptions(container, opts, PROBE_DECODERS), '-show_format', '-show_streams', '-of', 'json', fileUrl(path)];
    const out = await runTool('ffprobe', opts.ffprobePath, args, signal);
    if (out.code !== 0) {
      // The decoder's pixel cap stopped ffprobe before it could report the size.
      if (/exceeds specified max pixel count/.test(out.stderr)) throw new InvalidVideoError(`the video is too large (more than ${opts.maxDimension}x${opts.maxDimension} pixels)`);
      throw new InvalidVideoError(`the file is not a readable video (ffprobe: ${mediaReason(out.stderr, path)})`);
    }
    let data: ProbeJson;
    try {
      data = JSON.parse(out.stdout) as ProbeJson;
    } catch {
      throw new InvalidVideoError('the file is not a readable video (ffprobe printed no description)');
    }
    if (data.format?.format_name !== CONTAINERS[container].formatName) {
      throw new InvalidVideoError(`the file is not a readable video (read as ${data.format?.format_name ?? 'nothing'}, expected ${CONTAINERS[container].label})`);
    }
    const stream = data.streams?.find((s) => s.codec_type === 'video' && !STILL_CODECS.has(s.codec_name ?? '') && !s.disposition?.attached_pic);
    if (!stream) throw new InvalidVideoError('the file has no video stream');
    const width = stream.width ?? 0;
    const height = stream.height ?? 0;
    if (!(width > 0 && height > 0)) throw new InvalidVideoError('the video has no picture size');
    if (width > opts.maxDimension || height > opts.maxDimension) {
      throw new InvalidVideoError(`the video is too large (${width}x${height}; at most ${opts.maxDimension}x${opts.maxDimension})`);
    }
    const duration = Number(data.format?.duration ?? stream.duration);
    if (!Number.isFinite(duration) || duration <= 0) throw new InvalidVideoError('the video has zero length');
    if (duration > opts.maxDurationSec) throw new InvalidVideoError(`the video is too long (${Math.round(duration)} s; at most ${opts.maxDurationSec} s)`);
    const declared = Number(stream.nb_frames);
    const frames = Math.round(Number.isFinite(declared) && declared > 0 ? declared : duration * (rate(stream.avg_frame_rate) || rate(stream.r_frame_rate)));
    if (frames > opts.maxFrames) throw new InvalidVideoError(`the video has too many frames (${frames}; at most ${opts.maxFrames})`);
    if (!VIDEO_DECODERS.includes(stream.codec_name ?? '')) throw new InvalidVideoError(`the video codec ${stream.codec_name ?? 'unknown'} is not one we decode`);
    return { durationSec: duration, width, height, codec: stream.codec_name ?? 'unknown', format: data.format.format_name, container, frames };
  }

  /** One ffmpeg process (fluent-ffmpeg), under a permit and the deadline. */
  function runFfmpeg(label: string, command: ffmpeg.FfmpegCommand, signal?: AbortSignal): Promise<void> {
    command.setFfmpegPath(opts.ffmpegPath);
    return permits.use(
      () =>
        supervise(label, deadline(signal), (attach) =>
          new Promise<void>((resolvePromise, reject) => {
            command
              .on('start', () => attach(((s: NodeJS.Signals) => command.kill(s)) as KillFn))
              .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
                if (!/exited with code|killed with signal/.test(err.message)) return reject(new MediaToolsError(`${label}: cannot run ${opts.ffmpegPath} (${err.message})`));
                reject(Object.assign(err, { stderr: stderr ?? err.message }));
              })
              .on('end', () => resolvePromise())
              .run();
          }),
        ),
      signal,
    );
  }

  /**
   * One ffmpeg process for a group of timestamps: one seeking input per timestamp (`-ss`
   * before `-i`) and one JPEG output per input. Missing outputs (keyframe mode past the last
   * keyframe) are left for the caller.
   */
  async function extractGroup(path: string, info: VideoInfo, group: Array<{ index: number; t: number }>, seek: FrameSeek, dir: string, maxEdge: number, signal?: AbortSignal) {
    const command = ffmpeg();
    for (const [k, { t }] of group.entries()) {
      command.input(fileUrl(path)).inputOptions([
        ...(k === 0 ? ['-nostdin', '-hide_banner', '-v', 'error'] : []),
        ...guardedInputOptions(info.container, opts, VIDEO_DECODERS),
        // The probe already read the streams; for containers whose header describes them fully,
        // skipping ffmpeg's stream analysis (it decodes the first pictures) saves ~35 % per frame.
        ...(HEADER_DESCRIBED.has(info.container) ? ['-nofind_stream_info'] : []),
        // Parallelism comes from several processes; one decoder thread each keeps memory and CPU bounded.
        '-threads',
        '1',
        ...(seek === 'keyframe' ? ['-skip_frame', 'nokey', '-noaccurate_seek'] : []),
        '-ss',
        t.toFixed(3),
      ]);
    }
    for (const [k, { index }] of group.entries()) {
      command.output(frameFile(dir, index)).outputOptions(['-map', `${k}:v:0`, '-frames:v', '1', '-vf', scaleFilter(maxEdge), '-q:v', '3', '-an', '-sn', '-dn']);
    }
    try {
      await runFfmpeg(`ffmpeg (${group.length} frame${group.length > 1 ? 's' : ''})`, command, signal);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr;
      if (stderr === undefined) throw err;
      throw new InvalidVideoError(`no frame could be decoded at ${group.map((g) => g.t.toFixed(1)).join(', ')} s (ffmpeg: ${mediaReason(stderr, path)})`);
    }
  }

  const frameFile = (dir: string, index: number) => join(dir, `frame-${String(index).padStart(3, '0')}.jpg`);
  const readFrame = async (file: string) => ((await stat(file).catch(() => null))?.size ? readFile(file) : null);

  /**
   * One JPEG per timestamp (≤ maxEdge px on the long edge), in timestamp order. Timestamps are
   * spread over `frameProcesses` ffmpeg processes running in parallel, each with one seeking
   * input per timestamp, so a frame costs one seek and (keyframe mode) one decoded picture
   * instead of a decode of the whole video. In keyframe mode a timestamp past the last
   * keyframe, or two timestamps landing on the same keyframe (a GOP longer than their
   * spacing), are taken again exactly, so the frames are always distinct moments.
   * `info` (from probe) is read when not given.
   */
  async function extractFrames(
    path: string,
    timestamps: number[],
    o: { outDir: string; info?: VideoInfo; maxEdge?: number; seek?: FrameSeek; signal?: AbortSignal; onFrame?: (done: number) => void },
  ): Promise<Buffer[]> {
    const info = o.info ?? (await probe(path, o.signal));
    const seek = o.seek ?? opts.frameSeek;
    const maxEdge = o.maxEdge ?? FRAME_MAX_EDGE_PX;
    await rm(o.outDir, { recursive: true, force: true });
    await mkdir(o.outDir, { recursive: true });
    const items = timestamps.map((t, index) => ({ index, t }));
    const frames: Array<Buffer | null> = new Array<Buffer | null>(items.length).fill(null);
    let done = 0;
    const runGroups = async (todo: typeof items, mode: FrameSeek) => {
      const groups = splitGroups(todo, opts.frameProcesses, info);
      await Promise.all(
        groups.map(async (g) => {
          await extractGroup(path, info, g, mode, o.outDir, maxEdge, o.signal);
          for (const { index } of g) {
            frames[index] = await readFrame(frameFile(o.outDir, index));
            if (frames[index]) o.onFrame?.(++done);
          }
        }),
      );
    };
    await runGroups(items, seek);
    if (seek === 'keyframe') {
      // Identical frames are one keyframe found from several timestamps: it belongs to the
      // last of them (the closest before it); the earlier ones are taken exactly, so the
      // frames stay distinct and in order.
      const holder = new Map<string, number>();
      for (const { index } of items) {
        const f = frames[index];
        if (f) holder.set(createHash('sha1').update(f).digest('hex'), index);
      }
      const again = items.filter(({ index }) => {
        const f = frames[index];
        return !f || holder.get(createHash('sha1').update(f).digest('hex')) !== index;
      });
      if (again.length) {
        for (const { index } of again) if (frames[index]) done--;
        await runGroups(again, 'exact');
      }
    }
    const missing = items.filter(({ index }) => !frames[index]);
    if (missing.length) throw new InvalidVideoError(`no frame could be decoded at ${missing.map((m) => m.t.toFixed(1)).join(', ')} s`);
    return frames as Buffer[];
  }

  /** The naive method, for the benchmark: decode the whole video once and keep N frames with the fps filter. */
  async function extractFramesFullDecode(path: string, count: number, o: { outDir: string; info?: VideoInfo; maxEdge?: number }): Promise<Buffer[]> {
    const info = o.info ?? (await probe(path));
    await rm(o.outDir, { recursive: true, force: true });
    await mkdir(o.outDir, { recursive: true });
    const command = ffmpeg()
      .input(fileUrl(path))
      .inputOptions(['-nostdin', '-hide_banner', '-v', 'error', ...guardedInputOptions(info.container, opts, VIDEO_DECODERS)])
      .outputOptions(['-vf', `fps=${count}/${info.durationSec},${scaleFilter(o.maxEdge)}`, '-frames:v', String(count), '-q:v', '3', '-an'])
      .output(join(o.outDir, 'frame-%03d.jpg'));
    await runFfmpeg('ffmpeg (full decode)', command);
    const files = (await readdir(o.outDir)).filter((f) => f.endsWith('.jpg')).sort();
    return Promise.all(files.map((f) => readFile(join(o.outDir, f))));
  }

  return { options: opts, permits, checkTools, probe, extractFrames, extractFramesFullDecode };
}

export type Media = ReturnType<typeof createMedia>;

/**
 * Splits the timestamps into at most `processes` groups of neighbours, each small enough that
 * its decoders (one per input, kept until the process ends) fit a memory budget of about
 * eight 1080p decoders.
 */
export function splitGroups<T>(items: T[], processes: number, info: Pick<VideoInfo, 'width' | 'height'>): T[][] {
  const GROUP_PIXEL_BUDGET = 8 * 1920 * 1080;
  const perGroupCap = Math.max(1, Math.floor(GROUP_PIXEL_BUDGET / Math.max(1, info.width * info.height)));
  const groupCount = Math.max(Math.min(processes, items.length), Math.ceil(items.length / perGroupCap));
  const size = Math.ceil(items.length / groupCount);
  const groups: T[][] = [];
  for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size));
  return groups;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

export { looksLikeVideo, sniffContainer } from './sniff';
