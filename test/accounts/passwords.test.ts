import assert from 'node:assert/strict';
import argon2 from 'argon2';
import { authenticate, createUser } from '../../src/accounts/users.js';
import { hashPassword, passwordHashing, verifyPassword } from '../../src/accounts/passwords.js';
import { openSqliteStore } from '../../adapters/sqlite/index.js';
import type { Store } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';

/** The cost parameters of a PHC-format hash, whatever order the library writes them in. */
const params = (hash: string) => Object.fromEntries(hash.split('$')[3]!.split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));

describe('password hashing', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore((await backends[0]!.freshDatabaseUrl()));
  });
  after(() => store?.close());

  it('uses argon2id with at least m=19 MiB, t=2, p=1 and a unique salt', async () => {
    const a = await hashPassword('the same password here');
    const b = await hashPassword('the same password here');
    assert.match(a, /^\$argon2id\$v=19\$/);
    const { m, t, p } = params(a);
    assert.ok(m! >= 19456 && t! >= 2 && p! >= 1, a);
    assert.notEqual(a, b, 'salted');
  });

  it('rehashes on login when the stored parameters are weaker', async () => {
    const user = await createUser(store, { email: 'legacy@example.com', password: 'legacy password 123' });
    const weak = await argon2.hash('legacy password 123', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await store.users.setPasswordHash(user.id, weak);
    assert.ok(await authenticate(store, 'legacy@example.com', 'legacy password 123'));
    const upgraded = (await store.users.findById(user.id))!.passwordHash!;
    assert.notEqual(upgraded, weak);
    assert.deepEqual(params(upgraded), { m: 19456, t: 2, p: 1 });
    assert.ok(await authenticate(store, 'legacy@example.com', 'legacy password 123'));
  });

  it('a rehash racing a password change never writes the old password back', async () => {
    const user = await createUser(store, { email: 'race@example.com', password: 'old password 1234' });
    const weak = await argon2.hash('old password 1234', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await store.users.setPasswordHash(user.id, weak);
    const changed = await hashPassword('new password 5678');
    // The login verified the old hash; the change lands before its rehash is written.
    const login = authenticate(store, 'race@example.com', 'old password 1234');
    await store.users.setPasswordHash(user.id, changed);
    await login;
    assert.equal((await store.users.findById(user.id))!.passwordHash, changed);
  });

  it('computes no more hashes at once than PASSWORD_HASH_CONCURRENCY; the rest queue and all finish', async () => {
    const hash = await hashPassword('correct horse battery staple');
    const before = passwordHashing.limit;
    passwordHashing.setLimit(2);
    try {
      let mostAtOnce = 0;
      let mostWaiting = 0;
      const sample = setInterval(() => {
        mostAtOnce = Math.max(mostAtOnce, passwordHashing.active);
        mostWaiting = Math.max(mostWaiting, passwordHashing.waiting);
      }, 1);
      const results = await Promise.all([
        ...Array.from({ length: 5 }, () => verifyPassword(hash, 'correct horse battery staple')),
        verifyPassword(hash, 'wrong horse'),
        hashPassword('another password entirely'),
      ]);
      clearInterval(sample);
      assert.deepEqual(results.slice(0, 6), [true, true, true, true, true, false]);
      assert.match(results[6] as string, /^\$argon2id\$/);
      assert.equal(mostAtOnce, 2);
      assert.ok(mostWaiting >= 4, `at most ${mostWaiting} waited`);
      assert.equal(passwordHashing.active, 0);
    } finally {
      passwordHashing.setLimit(before);
    }
  });

  it('refuses a 1 MB password without hashing it, and unknown emails cost a verification too', async () => {
    assert.equal(await authenticate(store, 'legacy@example.com', 'x'.repeat(1024 * 1024)), undefined);
    assert.equal(await authenticate(store, 'nobody@example.com', 'whatever password'), undefined);
  });
});
