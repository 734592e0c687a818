import assert from 'node:assert/strict';
import { generateApiKey, hashApiKey, isWellFormedApiKey } from '../../src/access/api-keys.js';
import { backends } from '../helpers/backends.js';
import { startTestServer, testEnv, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi, keyFor } from '../helpers/management.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discover, login } from '../helpers/relying-party.js';

const REDIRECT = 'https://cli.example.test/callback';

describe('API key format', () => {
  it('is a fixed prefix, 256 random bits in base62, and a checksum that catches typos', () => {
    const key = generateApiKey();
    assert.match(key, /^ghk_[0-9A-Za-z]{49}$/);
    assert.notEqual(generateApiKey(), key);
    assert.equal(isWellFormedApiKey(key), true);
    const typo = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
    assert.equal(isWellFormedApiKey(typo), false);
    assert.equal(isWellFormedApiKey(`${key}x`), false);
    const checksumTypo = key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a');
    assert.equal(isWellFormedApiKey(checksumTypo), false);
  });

  it('accepts every key it makes, whatever its checksum (a fifth start with a 0 digit)', () => {
    const keys = Array.from({ length: 2000 }, generateApiKey);
    assert.deepEqual(keys.filter((k) => !isWellFormedApiKey(k)), []);
    assert.ok(keys.some((k) => k.at(-6) === '0'), 'some checksums are padded with a leading zero');
  });
});

for (const backend of backends) {
  describe(`API keys on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let second: ServerProcess | undefined;
    before(async () => {
      const url = await backend.freshDatabaseUrl();
      server = await startTestServer(url, { API_KEYS_PER_USER: '3' });
    });
    after(async () => {
      await second?.stop();
      await server?.stop();
    });

    it('lives a whole life: created once with an access token, used, listed without secrets, revoked everywhere at once', async () => {
      const user = await server.createUser();
      const config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email, scope: 'openid account' });

      const created = await callApi(server, tokens.access_token, 'POST', '/api/keys', { name: 'laptop' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const key: string = created.body.key;
      assert.match(key, /^ghk_/);
      assert.equal(created.body.prefix, key.slice(0, 12));
      const stored = await server.store.apiKeys.findById(created.body.id);
      assert.ok(stored && !stored.keyHash.includes(key) && stored.keyHash !== key, 'only a keyed hash is stored');

      const me = await callApi(server, key, 'GET', '/api/me');
      assert.equal(me.status, 200);
      assert.equal(me.body.id, user.id);

      const listed = await callApi(server, key, 'GET', '/api/keys');
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data.length, 1);
      const text = JSON.stringify(listed.body);
      assert.ok(!text.includes(key) && !text.includes(stored.keyHash), 'the listing shows neither the key nor its hash');
      assert.deepEqual(Object.keys(listed.body.data[0]).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'prefix', 'read_only', 'revoked_at', 'tool', 'user_id']);
      assert.ok(listed.body.data[0].last_used_at, 'use is recorded');

      // A second server process on the same database.
      const env = await testEnv(server.config.databaseUrl);
      second = await spawnServer(env);
      const viaSecond = () => fetch(`${second!.url}/api/me`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal((await viaSecond()).status, 200);

      assert.equal((await callApi(server, key, 'DELETE', `/api/keys/${created.body.id}`)).status, 204);
      assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 401);
      assert.equal((await viaSecond()).status, 401, 'refused at once by the other instance too');
      const after = await callApi(server, tokens.access_token, 'GET', '/api/keys');
      assert.ok(after.body.data[0].revoked_at);
    });

    it('is accepted only in the Authorization header, and refused when malformed, unknown or expired', async () => {
      const user = await server.createUser();
      const key = await keyFor(server, user);
      assert.equal((await fetch(`${server.issuer}/api/me?access_token=${key}`)).status, 401);
      assert.equal((await callApi(server, generateApiKey(), 'GET', '/api/me')).status, 401);
      const broken = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
      assert.equal((await callApi(server, broken, 'GET', '/api/me')).status, 401, 'a wrong checksum');
      assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 200);

      const expired = generateApiKey();
      const yesterday = Date.now() - 86_400_000;
      await server.store.apiKeys.create({
        id: 'expired-key', userId: user.id, name: 'old', keyHash: hashApiKey(server.secrets, expired), prefix: expired.slice(0, 12),
        toolId: null, readOnly: false, createdAt: yesterday - 1000, expiresAt: yesterday, lastUsedAt: null, revokedAt: null,
      });
      assert.equal((await callApi(server, expired, 'GET', '/api/me')).status, 401);
    });

    it('records its last use at most once a minute, so busy keys do not write on every request', async () => {
      const user = await server.createUser();
      const key = await keyFor(server, user);
      await callApi(server, key, 'GET', '/api/me');
      const lastUsed = async () => (await server.store.apiKeys.listForUser(user.id))[0]!.lastUsedAt;
      // The write is not awaited by the request: wait for it to land.
      let first = await lastUsed();
      for (let i = 0; !first && i < 50; i++) first = await new Promise<number | null>((r) => setTimeout(() => r(lastUsed()), 20));
      assert.ok(first);
      for (let i = 0; i < 5; i++) await callApi(server, key, 'GET', '/api/me');
      assert.equal(await lastUsed(), first);
    });

    it('stops working when its user is disabled', async () => {
      const user = await server.createUser();
      const key = await keyFor(server, user);
      await server.store.users.update(user.id, { status: 'disabled' });
      assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 401);
    });

    it('enforces the per-user limit with a clear 403, counting only keys that still work', async () => {
      const user = await server.createUser();
      const key = await keyFor(server, user);
      await callApi(server, key, 'POST', '/api/keys', { name: 'two' });
      const third = await callApi(server, key, 'POST', '/api/keys', { name: 'three' });
      assert.equal(third.status, 201);
      const fourth = await callApi(server, key, 'POST', '/api/keys', { name: 'four' });
      assert.equal(fourth.status, 403);
      assert.equal(fourth.body.error, 'key_limit_reached');
      assert.match(fourth.body.error_description, /3 API keys/);
      await callApi(server, key, 'DELETE', `/api/keys/${third.body.id}`);
      assert.equal((await callApi(server, key, 'POST', '/api/keys', { name: 'four' })).status, 201);
    });

    it('a read-only key reads but cannot change anything; a tool-narrowed key cannot change the account', async () => {
      const user = await server.createUser();
      const readOnly = await keyFor(server, user, { read_only: true });
      assert.equal((await callApi(server, readOnly, 'GET', '/api/me')).status, 200);
      const refused = await callApi(server, readOnly, 'PATCH', '/api/me', { name: 'New' });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'insufficient_scope');
      assert.equal((await callApi(server, readOnly, 'POST', '/api/keys', { name: 'x' })).status, 403);

      await server.createClient({ client_id: 'narrow-tool', redirect_uris: [REDIRECT] });
      const narrowed = await keyFor(server, user, { tool: 'narrow-tool' });
      assert.equal((await callApi(server, narrowed, 'PATCH', '/api/me', { name: 'New' })).status, 403);
    });

    it('people see and revoke only their own keys; admins list and revoke anyone\'s', async () => {
      const alice = await server.createUser();
      const bob = await server.createUser();
      const aliceKey = await keyFor(server, alice);
      const bobKey = await keyFor(server, bob);
      const bobKeyId = (await server.store.apiKeys.listForUser(bob.id))[0]!.id;

      assert.equal((await callApi(server, aliceKey, 'GET', `/api/keys?user_id=${bob.id}`)).status, 403);
      assert.equal((await callApi(server, aliceKey, 'DELETE', `/api/keys/${bobKeyId}`)).status, 404);
      assert.equal((await callApi(server, bobKey, 'GET', '/api/me')).status, 200);

      const { key: adminKey } = await adminCredential(server);
      const listed = await callApi(server, adminKey, 'GET', `/api/keys?user_id=${bob.id}`);
      assert.deepEqual(listed.body.data.map((k: { id: string }) => k.id), [bobKeyId]);
      assert.equal((await callApi(server, adminKey, 'DELETE', `/api/keys/${bobKeyId}`)).status, 204);
      assert.equal((await callApi(server, bobKey, 'GET', '/api/me')).status, 401);

      const audit = await callApi(server, adminKey, 'GET', `/api/audit?action=api_key.revoked&target_id=${bobKeyId}`);
      assert.equal(audit.body.data.length, 1);
      assert.equal(audit.body.data[0].details.owner, bob.id);
      assert.ok(audit.body.data[0].actor.api_key_id, 'the admin\'s key is named as the credential used');
    });
  });
}
