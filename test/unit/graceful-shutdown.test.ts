import { createServer } from 'node:http';
import { expect } from 'chai';
import sinon from 'sinon';
import { closeGracefully } from '../../api/server';
import type { AppDeps } from '../../api/deps';

describe('graceful shutdown of the API', () => {
  it('lets an in-flight request finish, refuses new connections, then closes the database and Temporal', async () => {
    const order: string[] = [];
    // The request is in flight from its arrival until the test releases it (after shutdown began).
    const arrived = deferred();
    const release = deferred();
    const server = createServer((_req, res) => {
      arrived.resolve();
      void release.promise.then(() => {
        order.push('request finished');
        res.end('done');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as { port: number };
    const deps = {
      orm: { close: sinon.stub().callsFake(async () => void order.push('db closed')) },
      temporal: { close: sinon.stub().callsFake(async () => void order.push('temporal closed')) },
    } as unknown as AppDeps;

    const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.text());
    await arrived.promise;
    const closing = closeGracefully(server, deps, 5_000);
    const refused = await fetch(`http://127.0.0.1:${port}/late`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(order, 'nothing closed while a request is in flight').to.deep.equal([]);
    release.resolve();
    expect(await inFlight).to.equal('done');
    await closing;
    expect(refused).to.equal('refused');
    expect(order).to.deep.equal(['request finished', 'db closed', 'temporal closed']);
  });

  it('gives up on requests that outlive the drain limit so shutdown always ends', async () => {
    const arrived = deferred();
    const server = createServer(() => {
      arrived.resolve(); // and never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as { port: number };
    const deps = { orm: { close: sinon.stub().resolves() }, temporal: { close: sinon.stub().resolves() } } as unknown as AppDeps;
    const hanging = fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
    await arrived.promise;
    await closeGracefully(server, deps, 200);
    expect(await hanging).to.be.instanceOf(Error);
    expect((deps.orm.close as sinon.SinonStub).calledOnce).to.equal(true);
  });
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
