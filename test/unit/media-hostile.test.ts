/**
 * Hostile uploads against the real media adapter and Debian's ffmpeg: files made with ffmpeg
 * itself and by hand (playlists, concat lists, absurd headers, truncations, bombs), each
 * refused with a clear error, without a network call, and without a process left running.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import ffmpeg from 'fluent-ffmpeg';
import {
  DEFAULT_MEDIA_OPTIONS,
  InvalidVideoError,
  MediaCancelledError,
  MediaTimeoutError,
  PROBE_DECODERS,
  createMedia,
  fileUrl,
  guardedInputOptions,
  type VideoInfo,
} from '../../adapters/media/ffmpeg';
import { generateTestVideo, runTrusted } from '../../adapters/media/generate';
import { Semaphore } from '../../adapters/media/semaphore';
import { eventually } from '../support/http';

const run = promisify(execFile);

/** A local HTTP server standing in for http://169.254.169.254: counts every connection it gets. */
async function listener(): Promise<{ server: Server; url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

/** Encodes a clip from one of ffmpeg's synthetic sources (trusted input). */
const lavfi = (source: string, out: string, extra: string[] = []) =>
  runTrusted(ffmpeg().input(source).inputFormat('lavfi').outputOptions(['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...extra]).output(out));

const rejection = async (p: Promise<unknown>): Promise<Error> => {
  const out = await p.then(
    () => null,
    (e: Error) => e,
  );
  if (!out) throw new Error('expected a rejection, got a result');
  return out;
};

describe('media adapter: hostile uploads', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-hostile-'));
  const media = createMedia();
  const f = (name: string) => join(dir, name);
  let metadata: Awaited<ReturnType<typeof listener>>;

  before(async () => {
    metadata = await listener();
    await generateTestVideo(f('ok.mp4'), { seconds: 2, width: 160, height: 120 });
    // moov at the front (faststart), so a truncated copy still has its index but not its pictures.
    await lavfi('testsrc=duration=6:size=320x240:rate=25', f('faststart.mp4'), ['-g', '25', '-movflags', '+faststart']);
  });
  after(() => new Promise<void>((resolve) => metadata.server.close(() => resolve())));
  afterEach(() => expect(metadata.connections(), 'no hostile file may cause a network connection').to.equal(0));

  describe('playlists and lists that point elsewhere', () => {
    const hls = (target: string) => `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n${target}\n#EXT-X-ENDLIST\n`;

    it('refuses an HLS playlist named .mp4 pointing at the cloud metadata address, a local server and a local file', async () => {
      const targets = ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', `${metadata.url}/segment.ts`, '/etc/passwd', f('ok.mp4')];
      for (const [i, target] of targets.entries()) {
        writeFileSync(f(`playlist-${i}.mp4`), hls(target));
        const err = await rejection(media.probe(f(`playlist-${i}.mp4`)));
        expect(err).to.be.instanceOf(InvalidVideoError);
        expect(err.message).to.match(/^the file is not a video container we accept \(MP4\/MOV\/3GP, Matroska\/WebM, AVI, MPEG-TS, MPEG-PS\)$/);
        const extract = await rejection(media.extractFrames(f(`playlist-${i}.mp4`), [1], { outDir: f(`out-playlist-${i}`) }));
        expect(extract).to.be.instanceOf(InvalidVideoError);
      }
    });

    it('keeps ffmpeg off the network even with the HLS demuxer forced on purpose: the protocol whitelist holds on its own', async () => {
      writeFileSync(f('forced.m3u8'), hls(`${metadata.url}/segment.ts`));
      const guard = guardedInputOptions('mpegts', DEFAULT_MEDIA_OPTIONS, PROBE_DECODERS);
      const onlyProtocol = guard.slice(0, guard.indexOf('-f'));
      expect(onlyProtocol).to.deep.equal(['-protocol_whitelist', 'file']);
      const err = await rejection(run(DEFAULT_MEDIA_OPTIONS.ffprobePath, ['-v', 'error', ...onlyProtocol, '-f', 'hls', fileUrl(f('forced.m3u8'))]));
      expect((err as Error & { stderr: string }).stderr).to.match(/Protocol 'http' not on whitelist 'file'/);
      expect(metadata.connections()).to.equal(0);
    });

    it('control: with http allowed the same forced playlist does reach the server (so the listener would see a leak)', async () => {
      writeFileSync(f('control.m3u8'), hls(`${metadata.url}/segment.ts`));
      await run(DEFAULT_MEDIA_OPTIONS.ffprobePath, ['-v', 'error', '-protocol_whitelist', 'file,http,tcp', '-f', 'hls', fileUrl(f('control.m3u8'))]).catch(() => undefined);
      expect(metadata.connections()).to.be.greaterThan(0);
      // This test is the one allowed to connect; reset the count for the afterEach check.
      metadata = await (async () => {
        await new Promise<void>((resolve) => metadata.server.close(() => resolve()));
        return listener();
      })();
    });

    it('refuses ffconcat lists that splice in local files, and an image2 pattern, before ffmpeg runs', async () => {
      writeFileSync(f('concat.mp4'), `ffconcat version 1.0\nfile '/etc/passwd'\nfile '${f('ok.mp4')}'\n`);
      writeFileSync(f('subfile.mp4'), `subfile,,start,0,end,100,,:${f('ok.mp4')}`);
      for (const name of ['concat.mp4', 'subfile.mp4']) {
        const err = await rejection(media.probe(f(name)));
        expect(err.message, name).to.match(/^the file is not a video container we accept/);
      }
    });

    it('reads an MP4 only through the forced mov demuxer: a concat list with an MP4 signature is not followed', async () => {
      // 'ftyp' at offset 4 makes the sniffer say MP4; the list after it must not be read as a list.
      writeFileSync(f('ftyp-concat.mp4'), Buffer.concat([Buffer.from([0, 0, 0, 0x14]), Buffer.from(`ftypisom\n\nffconcat version 1.0\nfile '${f('ok.mp4')}'\n`)]));
      const err = await rejection(media.probe(f('ftyp-concat.mp4')));
      expect(err).to.be.instanceOf(InvalidVideoError);
      expect(err.message).to.match(/^the file (is not a readable video \(ffprobe: .+\)|has no video stream)$/);
    });
  });

  describe('absurd headers and bombs', () => {
    it('refuses a huge declared resolution (8192x8192 in a 200 kB file) in the probe, and the decoder refuses it too when asked directly', async () => {
      await lavfi('color=c=black:s=8192x8192:r=1:d=2', f('huge.mp4'));
      const err = await rejection(media.probe(f('huge.mp4')));
      expect(err).to.be.instanceOf(InvalidVideoError);
      expect(err.message).to.equal('the video is too large (more than 4096x4096 pixels)');
      // Skip the probe (as if it had been fooled): the decoder's pixel cap still refuses.
      const fooled: VideoInfo = { durationSec: 2, width: 160, height: 120, codec: 'h264', format: 'mov,mp4,m4a,3gp,3g2,mj2', container: 'mov', frames: 2 };
      const decode = await rejection(media.extractFrames(f('huge.mp4'), [0.5], { info: fooled, outDir: f('out-huge') }));
      expect(decode).to.be.instanceOf(InvalidVideoError);
      expect(decode.message).to.match(/^no frame could be decoded at 0\.5 s/);
    });

    it('refuses a size under the pixel cap but over the edge cap (6000x1000)', async () => {
      await lavfi('color=c=black:s=6000x1000:r=1:d=1', f('wide.mp4'));
      const err = await rejection(media.probe(f('wide.mp4')));
      expect(err.message).to.equal('the video is too large (6000x1000; at most 4096x4096)');
    });

    it('refuses an extremely long duration, made by ffmpeg (3 frames over 3000 s) and by patching an MP4 header by hand (~50 days)', async () => {
      await lavfi('color=c=gray:s=64x48:r=1/1000:d=3000', f('long.mp4'));
      expect((await rejection(media.probe(f('long.mp4')))).message).to.equal('the video is too long (3000 s; at most 600 s)');

      const bytes = Buffer.from(readFileSync(f('ok.mp4')));
      for (const box of ['mvhd', 'mdhd']) {
        const at = bytes.indexOf(box);
        expect(bytes[at + 4], `${box} version 0`).to.equal(0);
        bytes.writeUInt32BE(0xfffffff0, at + 20); // duration field of a version-0 box
      }
      bytes.writeUInt32BE(0xfffffff0, bytes.indexOf('tkhd') + 24);
      writeFileSync(f('patched-duration.mp4'), bytes);
      expect((await rejection(media.probe(f('patched-duration.mp4')))).message).to.match(/^the video is too long \(\d{7} s; at most 600 s\)$/);
    });

    it('refuses a frame-rate bomb: more frames than the cap (1000 frames in 2 s against a cap of 500)', async () => {
      await lavfi('testsrc=duration=2:size=32x32:rate=500', f('fps-bomb.mp4'));
      const capped = createMedia({ maxFrames: 500 });
      expect((await rejection(capped.probe(f('fps-bomb.mp4')))).message).to.equal('the video has too many frames (1000; at most 500)');
      // The same file under the default cap is a valid (if odd) video.
      expect((await media.probe(f('fps-bomb.mp4'))).frames).to.equal(1000);
    });
  });

  describe('broken and disguised files', () => {
    it('refuses a truncated file whose index was cut off', async () => {
      const bytes = readFileSync(f('ok.mp4'));
      writeFileSync(f('truncated.mp4'), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const err = await rejection(media.probe(f('truncated.mp4')));
      expect(err).to.be.instanceOf(InvalidVideoError);
      expect(err.message).to.match(/^the file is not a readable video \(ffprobe: .+\)$/);
      expect(err.message).to.not.contain(dir);
    });

    it('probes a truncated file whose index survived, then says which frames cannot be decoded', async () => {
      const bytes = readFileSync(f('faststart.mp4'));
      writeFileSync(f('truncated-faststart.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.4)));
      const info = await media.probe(f('truncated-faststart.mp4'));
      expect(info.durationSec).to.be.closeTo(6, 0.1);
      const err = await rejection(media.extractFrames(f('truncated-faststart.mp4'), [0.5, 5.5], { info, outDir: f('out-truncated') }));
      expect(err).to.be.instanceOf(InvalidVideoError);
      expect(err.message).to.match(/^no frame could be decoded at .*5\.5 s/);
    });

    it('refuses non-video files renamed .mp4 (text, PNG, PDF, ELF) and an MP4 with only a still picture or only audio', async () => {
      writeFileSync(f('text.mp4'), 'just some text\n'.repeat(40));
      writeFileSync(f('pdf.mp4'), `%PDF-1.7\n${'x'.repeat(600)}`);
      writeFileSync(f('elf.mp4'), readFileSync(process.execPath).subarray(0, 4096));
      await runTrusted(ffmpeg().input('color=c=red:s=64x64:d=1').inputFormat('lavfi').outputOptions(['-frames:v', '1']).output(f('png.png')));
      writeFileSync(f('png.mp4'), readFileSync(f('png.png')));
      for (const name of ['text.mp4', 'pdf.mp4', 'elf.mp4', 'png.mp4']) {
        expect((await rejection(media.probe(f(name)))).message, name).to.match(/^the file is not a video container we accept/);
      }
      await runTrusted(ffmpeg().input('sine=duration=1').inputFormat('lavfi').outputOptions(['-c:a', 'aac']).output(f('audio.mp4')));
      await runTrusted(ffmpeg().input('color=c=red:s=64x64:d=1').inputFormat('lavfi').outputOptions(['-frames:v', '1', '-c:v', 'mjpeg']).output(f('still.mp4')));
      expect((await rejection(media.probe(f('audio.mp4')))).message).to.equal('the file has no video stream');
      // A lone JPEG in an MP4: MJPEG is not a decoder we run on uploads.
      expect((await rejection(media.probe(f('still.mp4')))).message).to.match(
        /^the file (has no video stream|is not a readable video \(ffprobe: it uses a format, codec or protocol we do not decode\))$/,
      );
    });
  });

  describe('processes that do not stop', () => {
    /**
     * A stand-in ffprobe that answers -version like the real one (same build as ffmpeg) and
     * otherwise hangs: records its pid and each SIGTERM it receives, and does not exit on it.
     */
    function hangingProbe(name: string): { bin: string; pidFile: string; signalsFile: string } {
      const bin = f(`${name}.sh`);
      const pidFile = f(`${name}.pid`);
      const signalsFile = f(`${name}.signals`);
      writeFileSync(
        bin,
        `#!/usr/bin/env bash\nif [ "$1" = -version ]; then exec ${DEFAULT_MEDIA_OPTIONS.ffprobePath} -version; fi\n` +
          `trap 'echo TERM >> "${signalsFile}"' TERM\necho $$ > "${pidFile}"\nwhile :; do sleep 0.05; done\n`,
      );
      chmodSync(bin, 0o755);
      return { bin, pidFile, signalsFile };
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };

    it('kills a probe that outlives the timeout: SIGTERM first, SIGKILL when it ignores it, and says so', async () => {
      const fake = hangingProbe('hang');
      const slow = createMedia({ ffprobePath: fake.bin, timeoutMs: 1000, killGraceMs: 500 });
      const err = await rejection(slow.probe(f('ok.mp4')));
      expect(err).to.be.instanceOf(MediaTimeoutError);
      expect(err).to.be.instanceOf(InvalidVideoError);
      expect(err.message).to.equal('ffprobe took longer than 1 s and was killed');
      const pid = Number(readFileSync(fake.pidFile, 'utf8'));
      expect(alive(pid)).to.equal(false);
      expect(readFileSync(fake.signalsFile, 'utf8')).to.contain('TERM');
    });

    it('kills the process at once when the activity is cancelled', async () => {
      const fake = hangingProbe('cancel');
      const slow = createMedia({ ffprobePath: fake.bin, timeoutMs: 60_000 });
      const abort = new AbortController();
      const probing = rejection(slow.probe(f('ok.mp4'), abort.signal));
      await eventually(async () => existsSync(fake.pidFile) && readFileSync(fake.pidFile, 'utf8').trim() !== '', 10_000, 'the fake ffprobe to start');
      abort.abort();
      const err = await probing;
      expect(err).to.be.instanceOf(MediaCancelledError);
      // The Temporal worker completes an activity as cancelled (not failed) only for an
      // AbortError thrown after its cancellation signal fired.
      expect((err as Error).name).to.equal('AbortError');
      expect(alive(Number(readFileSync(fake.pidFile, 'utf8')))).to.equal(false);
    });

    it('runs at most MEDIA_MAX_CONCURRENT processes per worker: the others wait for a permit', async () => {
      const fake = hangingProbe('slots');
      const limited = createMedia({ ffprobePath: fake.bin, maxConcurrent: 2, timeoutMs: 60_000 });
      await limited.checkTools();
      const abort = new AbortController();
      const probes = [1, 2, 3, 4].map(() => rejection(limited.probe(f('ok.mp4'), abort.signal)));
      await eventually(async () => limited.permits.inUse === 2 && limited.permits.queued === 2, 10_000, 'two probes running and two queued');
      abort.abort();
      for (const e of await Promise.all(probes)) expect(e).to.be.instanceOf(Error);
      expect(limited.permits.inUse).to.equal(0);
    });
  });

  it('refuses mismatched ffmpeg and ffprobe builds with a message naming both', async () => {
    const other = f('other-ffprobe.sh');
    writeFileSync(other, '#!/usr/bin/env bash\necho "ffprobe version 4.1.0-static https://johnvansickle.com/ffmpeg/"\n');
    chmodSync(other, 0o755);
    const err = await rejection(createMedia({ ffprobePath: other }).probe(f('ok.mp4')));
    expect(err.name).to.equal('MediaToolsError');
    expect(err.message).to.match(/^ffmpeg \(\d+\.\S+, \/usr\/bin\/ffmpeg\) and ffprobe \(4\.1\.0-static, .+\) are different builds/);
  });
});

describe('Semaphore', () => {
  it('grants up to its limit, queues the rest in order, and a release wakes the next', async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    const a = await s.acquire();
    const b = await s.acquire();
    const c = s.acquire().then((r) => (order.push(3), r));
    const d = s.acquire().then((r) => (order.push(4), r));
    expect([s.inUse, s.queued]).to.deep.equal([2, 2]);
    a();
    a(); // idempotent: a second release frees nothing more
    const rc = await c;
    expect([s.inUse, s.queued, order]).to.deep.equal([2, 1, [3]]);
    b();
    rc();
    (await d)();
    expect([s.inUse, s.queued, order]).to.deep.equal([0, 0, [3, 4]]);
  });

  it('drops a waiter whose signal aborts', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const abort = new AbortController();
    const waiting = s.acquire(abort.signal).then(
      () => 'granted',
      () => 'aborted',
    );
    abort.abort();
    expect(await waiting).to.equal('aborted');
    expect(s.queued).to.equal(0);
    held();
    expect(s.inUse).to.equal(0);
  });
});
