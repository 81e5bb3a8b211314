import { expect } from 'chai';
import { dummyPasswordHash, hashPassword } from '../../api/accounts/passwords';

/** The encoded parameters of an argon2 PHC string: `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`. */
function parameters(phc: string): string {
  const parts = phc.split('$');
  return `${parts[1]} ${parts[2]} ${parts[3]}`;
}

describe('password hashing: the unknown-email path costs the same as a real login', () => {
  for (const memoryKib of [19456, 8192, 12288]) {
    it(`given PASSWORD_HASH_MEMORY_KIB=${memoryKib}, the dummy hash uses exactly the parameters of a real hash`, async () => {
      const real = await hashPassword('Str0ngPassw0rd', memoryKib);
      const dummy = await dummyPasswordHash(memoryKib);
      expect(parameters(dummy)).to.equal(parameters(real));
      expect(parameters(real)).to.contain(`m=${memoryKib},`);
    });
  }
});
