import { expect } from 'chai';
import { dueKey, dueOffsetSecondsOf, dueTimeOf } from '../../bench/lib/due-keys';
import { reminderOffsetSeconds } from '../../domain/reminder-window';

describe('sleeping-workflow bench keys', () => {
  it('spreads the due keys over one minute with the real reminder-window function, and --at-once keys all at the minute', () => {
    const spread = Array.from({ length: 200 }, (_, i) => dueKey('mb1x', '08:05', i, true));
    expect(spread[0]).to.equal('mb1x-due0805w-0');
    for (const k of spread) {
      expect(dueTimeOf(k)).to.equal('08:05');
      expect(dueOffsetSecondsOf(k)).to.equal(reminderOffsetSeconds(k, 1)).and.be.within(0, 59);
    }
    expect(new Set(spread.map(dueOffsetSecondsOf)).size, '200 keys land on most of the 60 seconds').to.be.at.least(50);
    const atOnce = Array.from({ length: 200 }, (_, i) => dueKey('mb1x', '08:05', i, false));
    expect(atOnce[0]).to.equal('mb1x-due0805-0');
    for (const k of atOnce) expect([dueTimeOf(k), dueOffsetSecondsOf(k)]).to.deep.equal(['08:05', 0]);
    expect([dueTimeOf('mb1x-far-3'), dueOffsetSecondsOf('mb1x-far-3')]).to.deep.equal([null, 0]);
  });
});
