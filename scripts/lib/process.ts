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
export function startService(
  name: string,
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    logFile?: string;
    cwd?: string;
    inherit?: boolean;
    /**
     * Run in a process group of its own and stop the whole group: for a launcher such as
     * `npm run start`, whose node child is orphaned and keeps running when only npm is killed.
     */
    processGroup?: boolean;
  } = {},
): Service {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    detached: opts.processGroup ?? false,
  });
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (sig: NodeJS.Signals) => {
    if (!opts.processGroup || !child.pid) return void child.kill(sig);
    try {
      process.kill(-child.pid, sig);
    } catch {
      // The group is already gone.
    }
  };
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
      const launcherDone = child.exitCode !== null || child.signalCode !== null;
      if (launcherDone && !(opts.processGroup && child.pid && groupAlive())) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      // The launcher may exit before what it started: wait for the rest of its group too.
      while (opts.processGroup && child.pid && groupAlive()) await new Promise((r) => setTimeout(r, 50));
      clearTimeout(timer);
    },
  };
}
