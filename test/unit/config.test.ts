import { expect } from 'chai';
import { loadConfig, ConfigError } from '../../config';

describe('config', () => {
  it('starts with embedded defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.PORT).to.equal(4000);
    expect(c.TEMPORAL_ADDRESS).to.equal('127.0.0.1:7233');
    expect(c.STORAGE_DRIVER).to.equal('local');
  });

  it('names every bad variable and what it expects', () => {
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', CORS_ORIGINS: 'http://a,http://b' });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).to.match(/PORT .*\(got "abc"\)/);
      expect(message).to.match(/DATABASE_URL must be a postgres/);
    }
  });

  it('sends reminders at 08:00 UTC unless REMINDER_TIME_UTC names another HH:MM, and refuses a malformed time', () => {
    expect(loadConfig({}).REMINDER_TIME_UTC).to.equal('08:00');
    expect(loadConfig({ REMINDER_TIME_UTC: '23:59', REMINDER_WINDOW_MINUTES: '1' }).REMINDER_TIME_UTC).to.equal('23:59');
    for (const bad of ['8:00', '24:00', '07:60', '08:00:00', 'noon']) {
      expect(() => loadConfig({ REMINDER_TIME_UTC: bad }), bad).to.throw(ConfigError, /REMINDER_TIME_UTC must be a UTC time of day HH:MM/);
    }
  });

  it('spreads reminders over a 30-minute window unless REMINDER_WINDOW_MINUTES says otherwise (0 = all at REMINDER_TIME_UTC), and refuses a window that is not whole minutes, over 720, or past midnight', () => {
    expect(loadConfig({}).REMINDER_WINDOW_MINUTES).to.equal(30);
    expect(loadConfig({ REMINDER_WINDOW_MINUTES: '0' }).REMINDER_WINDOW_MINUTES).to.equal(0);
    expect(loadConfig({ REMINDER_WINDOW_MINUTES: '720' }).REMINDER_WINDOW_MINUTES).to.equal(720);
    for (const bad of ['-1', '721', '1.5', 'half an hour']) {
      expect(() => loadConfig({ REMINDER_WINDOW_MINUTES: bad }), bad).to.throw(ConfigError, /REMINDER_WINDOW_MINUTES/);
    }
    // 23:30 + 30 minutes ends at midnight exactly (the last offset is 23:59:59); one minute more would send the next day.
    expect(loadConfig({ REMINDER_TIME_UTC: '23:30', REMINDER_WINDOW_MINUTES: '30' }).REMINDER_WINDOW_MINUTES).to.equal(30);
    expect(() => loadConfig({ REMINDER_TIME_UTC: '23:30', REMINDER_WINDOW_MINUTES: '31' })).to.throw(ConfigError, /REMINDER_WINDOW_MINUTES must end by midnight UTC .*REMINDER_TIME_UTC=23:30 at most 30 \(got "31"\)/);
    expect(() => loadConfig({ REMINDER_TIME_UTC: '23:59' })).to.throw(ConfigError, /REMINDER_WINDOW_MINUTES must end by midnight UTC/);
  });

  it('refuses the development JWT secret in production, without echoing secrets', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /JWT_SECRET must be set/);
    try {
      loadConfig({ JWT_SECRET: 'short-secret' });
    } catch (err) {
      expect((err as Error).message).to.contain('JWT_SECRET must be at least 32 characters');
      expect((err as Error).message).not.to.contain('short-secret');
    }
  });

  it('requires a bucket when the S3 driver is chosen, and treats empty strings as unset', () => {
    expect(() => loadConfig({ STORAGE_DRIVER: 's3' })).to.throw(ConfigError, /S3_BUCKET is required/);
    expect(loadConfig({ PORT: '' }).PORT).to.equal(4000);
    expect(loadConfig({ CORS_ORIGINS: 'http://a, http://b' }).CORS_ORIGINS).to.deep.equal(['http://a', 'http://b']);
  });
});
