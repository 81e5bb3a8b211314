import { expect } from 'chai';
import { fnv1a32, isReminderOffset, reminderClock, reminderOffsetSeconds, REMINDER_WINDOW_MAX_MINUTES } from '../../domain/reminder-window';

describe('reminder window (domain)', () => {
  it('hashes with FNV-1a 32-bit over UTF-8: the published vectors, and ours fixed so an owner\'s reminder time never silently moves', () => {
    // Published FNV-1a 32 vectors (the empty string is the offset basis).
    expect(fnv1a32('')).to.equal(0x811c9dc5);
    expect(fnv1a32('a')).to.equal(0xe40c292c);
    expect(fnv1a32('foobar')).to.equal(0xbf9cf968);
    // UTF-8, not UTF-16 code units: É is the two bytes C3 89.
    expect(fnv1a32('Étoile')).to.equal(0x89350b60);
    expect(fnv1a32('6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b')).to.equal(0x8eefe0a7);
  });

  it('gives each subject a stable whole second in [0, window): fixed vectors for the default 30 minutes, 1 minute and 12 hours', () => {
    const horse = '6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b';
    const gestation = '00000000-0000-4000-8000-000000000001';
    expect(reminderOffsetSeconds(horse, 30)).to.equal(1087); // 08:18:07 with REMINDER_TIME_UTC=08:00
    expect(reminderOffsetSeconds(gestation, 30)).to.equal(722);
    expect(reminderOffsetSeconds(horse, 1)).to.equal(7);
    expect(reminderOffsetSeconds(gestation, 1)).to.equal(2);
    expect(reminderOffsetSeconds(horse, 720)).to.equal(10087);
    expect(reminderOffsetSeconds('h-replay', 30)).to.equal(1353);
    // Same id, same second, every call (every day).
    expect(reminderOffsetSeconds(horse, 30)).to.equal(reminderOffsetSeconds(horse, 30));
  });

  it('sends everyone exactly at REMINDER_TIME_UTC with a window of 0', () => {
    for (const id of ['a', 'foobar', '6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b']) expect(reminderOffsetSeconds(id, 0)).to.equal(0);
  });

  it('stays inside the window and spreads ids over it (1,000 uuid-like ids over one minute use most of its 60 seconds)', () => {
    const offsets = Array.from({ length: 1000 }, (_, i) => reminderOffsetSeconds(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 1));
    for (const o of offsets) expect(o).to.be.within(0, 59).and.satisfy(Number.isInteger);
    const perSecond = new Map<number, number>();
    for (const o of offsets) perSecond.set(o, (perSecond.get(o) ?? 0) + 1);
    expect(perSecond.size).to.be.at.least(55);
    expect(Math.max(...perSecond.values()), 'no second takes more than twice its share').to.be.at.most(2 * (1000 / 60));
    for (const window of [1, 30, REMINDER_WINDOW_MAX_MINUTES]) {
      for (const id of ['', 'x'].map((p, i) => `${p}subject-${i}`)) expect(reminderOffsetSeconds(id, window)).to.be.within(0, window * 60 - 1);
    }
  });

  it('refuses an empty subject id and a window that is not whole minutes from 0 to 720', () => {
    expect(() => reminderOffsetSeconds('', 30)).to.throw(/non-empty subject id/);
    for (const bad of [-1, 721, 1.5, Number.NaN]) expect(() => reminderOffsetSeconds('a', bad), String(bad)).to.throw(/whole number of minutes from 0 to 720/);
  });

  it('accepts as an offset only whole seconds inside the longest window', () => {
    expect(isReminderOffset(0)).to.equal(true);
    expect(isReminderOffset(720 * 60 - 1)).to.equal(true);
    for (const bad of [-1, 0.5, 720 * 60, Number.NaN]) expect(isReminderOffset(bad), String(bad)).to.equal(false);
  });

  it('reads the time of day and the window from the settings: what snapshots and views carry', () => {
    expect(reminderClock('6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b', { REMINDER_TIME_UTC: '07:15', REMINDER_WINDOW_MINUTES: 30 })).to.deep.equal({ reminderTimeUtc: '07:15', reminderOffsetSeconds: 1087 });
    expect(reminderClock('6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b', { REMINDER_TIME_UTC: '07:15', REMINDER_WINDOW_MINUTES: 0 })).to.deep.equal({ reminderTimeUtc: '07:15', reminderOffsetSeconds: 0 });
  });
});
