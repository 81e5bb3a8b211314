import { expect } from 'chai';
import { CallerCache } from '../../api/accounts/caller-cache';

/** A loader whose answers the test hands out one by one, counting the loads it was asked for. */
function controlledLoader<T>() {
  const waiting: ((value: T | null) => void)[] = [];
  const failing: ((err: Error) => void)[] = [];
  return {
    calls: 0,
    load(): Promise<T | null> {
      this.calls++;
      return new Promise<T | null>((resolve, reject) => {
        waiting.push(resolve);
        failing.push(reject);
      });
    },
    answer(value: T | null) {
      failing.shift();
      waiting.shift()!(value);
    },
    fail(err: Error) {
      waiting.shift();
      failing.shift()!(err);
    },
  };
}

describe('caller cache', () => {
  it('sends one load for every request of a caller that misses while that load is in flight', async () => {
    const cache = new CallerCache<{ id: string }>(5000);
    const loader = controlledLoader<{ id: string }>();
    const requests = Array.from({ length: 32 }, () => cache.load('u1', () => loader.load()));
    expect(loader.calls).to.equal(1);
    loader.answer({ id: 'u1' });
    const answers = await Promise.all(requests);
    expect(answers.every((a) => a?.id === 'u1')).to.equal(true);
    expect(cache.get('u1')).to.deep.equal({ id: 'u1' });
    await cache.load('u1', () => loader.load());
    expect(loader.calls, 'a hit loads nothing').to.equal(1);
  });

  it('loads again once the entry expired, and each caller on its own', async () => {
    const cache = new CallerCache<string>(1000);
    cache.set('u1', 'old', 0);
    expect(cache.get('u1', 999)).to.equal('old');
    expect(cache.get('u1', 1000)).to.equal(undefined);
    const loader = controlledLoader<string>();
    const a = cache.load('u1', () => loader.load());
    const b = cache.load('u2', () => loader.load());
    expect(loader.calls).to.equal(2);
    loader.answer('new-1');
    loader.answer('new-2');
    expect([await a, await b]).to.deep.equal(['new-1', 'new-2']);
  });

  it('drops a load in flight when the caller is forgotten: later requests read again and the old read is not kept', async () => {
    const cache = new CallerCache<string>(5000);
    const loader = controlledLoader<string>();
    const before = cache.load('u1', () => loader.load());
    cache.forget('u1'); // e.g. the password changed while the first read was on its way
    const after = cache.load('u1', () => loader.load());
    expect(loader.calls).to.equal(2);
    loader.answer('read before the change');
    expect(await before).to.equal('read before the change');
    expect(cache.get('u1'), 'the stale read is not remembered').to.equal(undefined);
    loader.answer('read after the change');
    expect(await after).to.equal('read after the change');
    expect(cache.get('u1')).to.equal('read after the change');
  });

  it('remembers neither a missing caller nor a failed load, and shares the failure with the waiting requests', async () => {
    const cache = new CallerCache<string>(5000);
    const loader = controlledLoader<string>();
    const gone = cache.load('u1', () => loader.load());
    loader.answer(null);
    expect(await gone).to.equal(null);
    expect(cache.get('u1')).to.equal(undefined);

    const first = cache.load('u1', () => loader.load());
    const second = cache.load('u1', () => loader.load());
    loader.fail(new Error('database unreachable'));
    for (const p of [first, second]) {
      const err = await p.then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('database unreachable');
    }
    const retry = cache.load('u1', () => loader.load());
    expect(loader.calls, 'the next request loads again').to.equal(3);
    loader.answer('back');
    expect(await retry).to.equal('back');
  });

  it('with the cache off (TTL 0) every request loads on its own', async () => {
    const cache = new CallerCache<string>(0);
    const loader = controlledLoader<string>();
    const a = cache.load('u1', () => loader.load());
    const b = cache.load('u1', () => loader.load());
    expect(loader.calls).to.equal(2);
    loader.answer('a');
    loader.answer('b');
    expect([await a, await b]).to.deep.equal(['a', 'b']);
    expect(cache.size).to.equal(0);
  });
});
