import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Service {
  name: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a long-running child; output goes to a log file (or is dropped), never to our stdout. */
export function startService(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string; inherit?: boolean } = {}): Service {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });
  if (!opts.inherit) {
    if (opts.logFile) {
      mkdirSync(dirname(opts.logFile), { recursive: true });
      const out = createWriteStream(opts.logFile, { flags: 'a' });
      child.stdout?.pipe(out);
      child.stderr?.pipe(out);
    } else {
      child.stdout?.resume();
      child.stderr?.resume();
    }
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return {
    name,
    child,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
