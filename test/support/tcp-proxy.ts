import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (Postgres, Temporal), so a test can take that
 * server away from one API instance without stopping the shared one:
 * - `refuse()`: stop listening and cut every connection (the server is down);
 * - `blackhole()`: keep connections open but forward nothing (the network hangs);
 * - `forward()`: back to normal on the same port;
 * - `dropCommitAnswer(after)`: once, on the first connection whose client sent a message
 *   matching `after` and then COMMIT, forward the COMMIT to the server and cut the connection
 *   when the server answers, without passing the answer on: the transaction is committed and
 *   the client cannot know (a connection dropped during COMMIT).
 */
export interface TcpProxy {
  port: number;
  refuse(): Promise<void>;
  blackhole(): void;
  forward(): Promise<void>;
  /** Resolves once a committed transaction's answer was dropped. */
  dropCommitAnswer(after: RegExp): Promise<void>;
  close(): Promise<void>;
}

/** A simple-protocol Query or an extended-protocol Parse whose text is COMMIT (pg sends `COMMIT` either way). */
const COMMIT = /(^|[^a-z_])commit\b/i;

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const held = new Set<Socket>();
  let commitTrap: { after: RegExp; dropped: () => void } | null = null;

  const link = (pair: { client: Socket; upstream: Socket }) => {
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
    pair.client.resume();
    pair.upstream.resume();
  };
  const unlink = (pair: { client: Socket; upstream: Socket }) => {
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  };

  const onConnection = (client: Socket) => {
    client.on('error', () => {});
    if (mode === 'blackhole') {
      held.add(client);
      client.pause();
      client.once('close', () => held.delete(client));
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', drop);
    // Watches what the client sends (pipe forwards it first, so the server has it before this runs).
    let matched = false;
    client.on('data', (chunk: Buffer) => {
      if (!commitTrap) return;
      const text = chunk.toString('latin1');
      if (commitTrap.after.test(text)) matched = true;
      else if (matched && COMMIT.test(text)) {
        const trap = commitTrap;
        commitTrap = null;
        upstream.unpipe(client);
        upstream.once('data', () => {
          drop();
          trap.dropped();
        });
        upstream.resume(); // unpipe paused it: a 'data' listener alone does not restart the flow

      }
    });
    link(pair);
  };

  let server: Server = createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      });
    });
  const port = await listen(0);
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

  const refuse = async () => {
    mode = 'refuse';
    const closing = stopListening();
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    for (const s of held) s.destroy();
    await closing;
  };

  return {
    port,
    refuse,
    blackhole() {
      mode = 'blackhole';
      for (const p of pairs) unlink(p);
    },
    async forward() {
      const was = mode;
      mode = 'forward';
      for (const s of held) s.destroy();
      if (was === 'refuse') {
        server = createServer(onConnection);
        await listen(port);
      } else {
        for (const p of pairs) link(p);
      }
    },
    dropCommitAnswer(after: RegExp) {
      return new Promise<void>((dropped) => {
        commitTrap = { after, dropped };
      });
    },
    close: refuse,
  };
}
