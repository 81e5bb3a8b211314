import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { configSchema } from '../../config';

describe('.env.example', () => {
  it('documents every variable the config module reads', () => {
    const documented = new Set(
      readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z0-9_]+)=/.exec(l)?.[1])
        .filter(Boolean),
    );
    const keys = Object.keys(configSchema.shape);
    expect(keys.length).to.be.greaterThan(20);
    expect(keys.filter((k) => !documented.has(k))).to.deep.equal([]);
  });
});
