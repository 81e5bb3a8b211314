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
    expect(loadConfig({ REMINDER_TIME_UTC: '23:59' }).REMINDER_TIME_UTC).to.equal('23:59');
    for (const bad of ['8:00', '24:00', '07:60', '08:00:00', 'noon']) {
      expect(() => loadConfig({ REMINDER_TIME_UTC: bad }), bad).to.throw(ConfigError, /REMINDER_TIME_UTC must be a UTC time of day HH:MM/);
    }
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
