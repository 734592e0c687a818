import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  AlreadyExistsError,
  NotFoundError,
  type ActionPurpose,
  type ActionTokenRecord,
  type ApiKeyRecord,
  type AuditEvent,
  type AuditQuery,
  type SigningKeyRecord,
  type Store,
} from '../../src/store/port.js';

/**
 * The storage contract. Every driver's test file calls this with a factory that opens
 * a fresh, empty store; a driver is done when all of it passes.
 */
export function runStoreContract(driver: string, openFresh: () => Promise<Store>): void {
  describe(`store contract: ${driver}`, function () {
    let store: Store;
    beforeEach(async () => {
      store = await openFresh();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('oidc records', () => {
      it('round-trips a payload and finds it by id, uid and user code', async () => {
        const payload = { uid: 'u-1', userCode: 'ABCD-EFGH', grantId: 'g-1', nested: { a: [1, 2], 'https://x.example/y': 'dots ok' } };
        await store.oidc.upsert('DeviceCode', 'id-1', payload, 60);
        assert.deepEqual(await store.oidc.find('DeviceCode', 'id-1'), payload);
        assert.deepEqual(await store.oidc.findByUid('DeviceCode', 'u-1'), payload);
        assert.deepEqual(await store.oidc.findByUserCode('DeviceCode', 'ABCD-EFGH'), payload);
        assert.equal(await store.oidc.find('AccessToken', 'id-1'), undefined, 'models are separate namespaces');
      });

      it('upsert replaces the payload', async () => {
        await store.oidc.upsert('Session', 's', { uid: 'a', n: 1 }, 60);
        await store.oidc.upsert('Session', 's', { uid: 'b', n: 2 }, 60);
        assert.deepEqual(await store.oidc.find('Session', 's'), { uid: 'b', n: 2 });
        assert.equal(await store.oidc.findByUid('Session', 'a'), undefined);
      });

      it('does not return expired records, and the sweeper deletes them', async () => {
        await store.oidc.upsert('AccessToken', 'short', { grantId: 'g' }, 1);
        await store.oidc.upsert('AccessToken', 'long', { grantId: 'g' }, 3600);
        await store.oidc.upsert('Client', 'forever', { client_id: 'forever' }, undefined);
        assert.ok(await store.oidc.find('AccessToken', 'short'));
        const later = Date.now() + 2000;
        assert.equal(await store.sweepExpired(later), 1);
        assert.equal(await store.oidc.find('AccessToken', 'short'), undefined);
        assert.ok(await store.oidc.find('AccessToken', 'long'));
        assert.ok(await store.oidc.find('Client', 'forever'));
      });

      it('hides a record on read once its expiry has passed', async function () {
        this.timeout(5000);
        await store.oidc.upsert('AuthorizationCode', 'c', { grantId: 'g' }, 1);
        await new Promise((r) => setTimeout(r, 1100));
        assert.equal(await store.oidc.find('AuthorizationCode', 'c'), undefined);
      });

      it('consume succeeds once and records `consumed` in epoch seconds', async () => {
        await store.oidc.upsert('AuthorizationCode', 'c', { grantId: 'g' }, 60);
        assert.equal(await store.oidc.consume('AuthorizationCode', 'c'), true);
        assert.equal(await store.oidc.consume('AuthorizationCode', 'c'), false);
        const found = await store.oidc.find('AuthorizationCode', 'c');
        assert.equal(typeof found?.consumed, 'number');
        assert.ok(Math.abs(found!.consumed! - Date.now() / 1000) < 5);
      });

      it('of 20 parallel consumes exactly one wins', async () => {
        await store.oidc.upsert('RefreshToken', 'r', { grantId: 'g' }, 60);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.oidc.consume('RefreshToken', 'r')));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('re-saving a consumed record does not un-consume it', async () => {
        await store.oidc.upsert('AuthorizationCode', 'c', { grantId: 'g' }, 60);
        await store.oidc.consume('AuthorizationCode', 'c');
        await store.oidc.upsert('AuthorizationCode', 'c', { grantId: 'g' }, 60);
        assert.ok((await store.oidc.find('AuthorizationCode', 'c'))?.consumed);
        assert.equal(await store.oidc.consume('AuthorizationCode', 'c'), false);
      });

      it('consume of a missing record returns false', async () => {
        assert.equal(await store.oidc.consume('AuthorizationCode', 'nope'), false);
      });

      it('revokeByGrantId removes every record of that grant in that model only', async () => {
        await store.oidc.upsert('AccessToken', 'a1', { grantId: 'g1' }, 60);
        await store.oidc.upsert('AccessToken', 'a2', { grantId: 'g1' }, 60);
        await store.oidc.upsert('AccessToken', 'a3', { grantId: 'g2' }, 60);
        await store.oidc.upsert('RefreshToken', 'r1', { grantId: 'g1' }, 60);
        await store.oidc.revokeByGrantId('AccessToken', 'g1');
        assert.equal(await store.oidc.find('AccessToken', 'a1'), undefined);
        assert.equal(await store.oidc.find('AccessToken', 'a2'), undefined);
        assert.ok(await store.oidc.find('AccessToken', 'a3'));
        assert.ok(await store.oidc.find('RefreshToken', 'r1'));
      });

      it('revokeByAccount removes every record of the account in every model, but the kept session', async () => {
        await store.oidc.upsert('Session', 'keep', { accountId: 'acc', uid: 'u1' }, 60);
        await store.oidc.upsert('Session', 'other', { accountId: 'acc', uid: 'u2' }, 60);
        await store.oidc.upsert('Grant', 'g', { accountId: 'acc' }, 60);
        await store.oidc.upsert('RefreshToken', 'r', { accountId: 'acc', grantId: 'g' }, 60);
        await store.oidc.upsert('AccessToken', 'a', { accountId: 'acc', grantId: 'g' }, 60);
        await store.oidc.upsert('RefreshToken', 'someone-else', { accountId: 'acc2', grantId: 'g2' }, 60);
        await store.oidc.revokeByAccount('acc', 'keep');
        assert.ok(await store.oidc.find('Session', 'keep'));
        for (const [model, id] of [['Session', 'other'], ['Grant', 'g'], ['RefreshToken', 'r'], ['AccessToken', 'a']] as const) {
          assert.equal(await store.oidc.find(model, id), undefined, `${model} ${id} revoked`);
        }
        assert.ok(await store.oidc.find('RefreshToken', 'someone-else'));
        await store.oidc.revokeByAccount('acc');
        assert.equal(await store.oidc.find('Session', 'keep'), undefined);
      });

      it('lists an account\'s unexpired records of one model', async function () {
        this.timeout(5000);
        await store.oidc.upsert('Session', 'gone', { accountId: 'acc', uid: 'c' }, 1);
        await store.oidc.upsert('Session', 's1', { accountId: 'acc', uid: 'a' }, 60);
        await store.oidc.upsert('Session', 's2', { accountId: 'acc', uid: 'b' }, 60);
        await store.oidc.upsert('Session', 'other', { accountId: 'acc2', uid: 'd' }, 60);
        await store.oidc.upsert('Grant', 'g', { accountId: 'acc' }, 60);
        await new Promise((r) => setTimeout(r, 1100));
        const listed = await store.oidc.listByAccount('Session', 'acc');
        assert.deepEqual(listed.sort((a, b) => a.id.localeCompare(b.id)), [
          { id: 's1', payload: { accountId: 'acc', uid: 'a' } },
          { id: 's2', payload: { accountId: 'acc', uid: 'b' } },
        ]);
      });

      it('destroy removes one record', async () => {
        await store.oidc.upsert('Session', 's1', {}, 60);
        await store.oidc.upsert('Session', 's2', {}, 60);
        await store.oidc.destroy('Session', 's1');
        assert.equal(await store.oidc.find('Session', 's1'), undefined);
        assert.ok(await store.oidc.find('Session', 's2'));
      });
    });

    describe('users', () => {
      const newUser = (email: string) => ({
        id: randomUUID(),
        email,
        emailVerified: false,
        name: 'Ada',
        passwordHash: '$argon2id$fake',
        role: 'viewer' as const,
      });

      it('creates and finds a user by id and by email, case-insensitively', async () => {
        const created = await store.users.create(newUser('Ada@Example.COM'));
        assert.equal(created.email, 'ada@example.com');
        assert.deepEqual(await store.users.findById(created.id), created);
        assert.deepEqual(await store.users.findByEmail('ADA@example.com'), created);
        assert.equal(await store.users.count(), 1);
      });

      it('refuses a second user with the same email in another case', async () => {
        await store.users.create(newUser('ada@example.com'));
        await assert.rejects(store.users.create(newUser('ADA@EXAMPLE.COM')), AlreadyExistsError);
        assert.equal(await store.users.count(), 1);
      });

      it('parallel sign-ups with one email make one user', async () => {
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.users.create(newUser('race@example.com'))));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError);
      });

      it('marks an email verified, and reports unknown users', async () => {
        const u = await store.users.create(newUser('verify@example.com'));
        await store.users.setEmailVerified(u.id);
        assert.equal((await store.users.findById(u.id))?.emailVerified, true);
        await assert.rejects(store.users.setEmailVerified('missing'), NotFoundError);
      });

      it('upgrades a password hash only while it is still the expected one', async () => {
        const u = await store.users.create(newUser('upgrade@example.com'));
        assert.equal(await store.users.upgradePasswordHash(u.id, '$argon2id$fake', '$argon2id$stronger'), true);
        assert.equal(await store.users.upgradePasswordHash(u.id, '$argon2id$fake', '$argon2id$stale'), false);
        assert.equal((await store.users.findById(u.id))?.passwordHash, '$argon2id$stronger');
      });

      it('defaults the theme to system, updates profile fields, and deletes', async () => {
        const u = await store.users.create(newUser('profile@example.com'));
        assert.equal(u.theme, 'system');
        assert.equal(u.status, 'active');
        await store.users.update(u.id, { theme: 'dark' });
        assert.deepEqual({ ...(await store.users.findById(u.id)), updatedAt: 0 }, { ...u, theme: 'dark', updatedAt: 0 });
        await store.users.update(u.id, { name: null });
        assert.equal((await store.users.findById(u.id))?.name, null);
        assert.equal((await store.users.findById(u.id))?.theme, 'dark');
        await assert.rejects(store.users.update('missing', { name: 'x' }), NotFoundError);
        assert.equal(await store.users.delete(u.id), true);
        assert.equal(await store.users.findById(u.id), undefined);
        assert.equal(await store.users.delete(u.id), false);
        assert.equal(await store.users.count(), 0);
      });

      it('updates role, status, verification and email, keeping emails unique', async () => {
        const u = await store.users.create(newUser('before@example.com'));
        const other = await store.users.create(newUser('taken@example.com'));
        await store.users.update(u.id, { role: 'admin', status: 'disabled', emailVerified: true, email: 'After@Example.com' });
        const changed = await store.users.findById(u.id);
        assert.deepEqual(
          { role: changed?.role, status: changed?.status, emailVerified: changed?.emailVerified, email: changed?.email },
          { role: 'admin', status: 'disabled', emailVerified: true, email: 'after@example.com' },
        );
        assert.equal((await store.users.findByEmail('after@example.com'))?.id, u.id);
        assert.equal(await store.users.findByEmail('before@example.com'), undefined);
        await assert.rejects(store.users.update(u.id, { email: 'TAKEN@example.com' }), AlreadyExistsError);
        assert.equal((await store.users.findById(u.id))?.email, 'after@example.com', 'a refused change changes nothing');
        assert.equal((await store.users.findById(other.id))?.email, 'taken@example.com');
      });

      it('lists users in email order, filtered and paged', async () => {
        for (const email of ['c@one.test', 'a@one.test', 'b@two.test', 'd@one.test']) await store.users.create(newUser(email));
        const admin = await store.users.create({ ...newUser('e@two.test'), role: 'admin' });
        await store.users.update((await store.users.findByEmail('d@one.test'))!.id, { status: 'disabled' });
        const emails = (users: { email: string }[]) => users.map((u) => u.email);
        assert.deepEqual(emails(await store.users.list({ limit: 10 })), ['a@one.test', 'b@two.test', 'c@one.test', 'd@one.test', 'e@two.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 2 })), ['a@one.test', 'b@two.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 2, after: 'b@two.test' })), ['c@one.test', 'd@one.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 10, email: 'ONE.t' })), ['a@one.test', 'c@one.test', 'd@one.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 10, role: 'admin' })), [admin.email]);
        assert.deepEqual(emails(await store.users.list({ limit: 10, status: 'disabled' })), ['d@one.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 10, email: 'one', status: 'active' })), ['a@one.test', 'c@one.test']);
        assert.deepEqual(emails(await store.users.list({ limit: 10, email: '.*' })), [], 'the email filter is literal text, not a pattern');
        assert.deepEqual(emails(await store.users.list({ limit: 10, email: '%' })), [], 'the email filter is literal text, not a pattern');
      });

      it('sets a password hash, and reports unknown users', async () => {
        const u = await store.users.create(newUser('pw@example.com'));
        await store.users.setPasswordHash(u.id, '$argon2id$new');
        assert.equal((await store.users.findById(u.id))?.passwordHash, '$argon2id$new');
        await assert.rejects(store.users.setPasswordHash('missing', 'x'), NotFoundError);
      });
    });

    describe('clients', () => {
      it('upserts, keeps createdAt, and lists', async () => {
        const first = await store.clients.upsert({ clientId: 'app', metadata: { redirect_uris: ['https://a/cb'] }, secretCiphertext: 'v1.x' });
        await new Promise((r) => setTimeout(r, 5));
        const second = await store.clients.upsert({ clientId: 'app', metadata: { redirect_uris: ['https://b/cb'] }, secretCiphertext: null });
        assert.equal(second.createdAt, first.createdAt);
        assert.ok(second.updatedAt >= first.updatedAt);
        assert.deepEqual(second.metadata, { redirect_uris: ['https://b/cb'] });
        assert.equal(second.secretCiphertext, null);
        assert.deepEqual(await store.clients.find('app'), second);
        assert.equal(await store.clients.find('other'), undefined);
        await store.clients.upsert({ clientId: 'cli', metadata: {}, secretCiphertext: null });
        assert.deepEqual((await store.clients.list()).map((c) => c.clientId).sort(), ['app', 'cli']);
      });

      it('deletes a client', async () => {
        await store.clients.upsert({ clientId: 'gone', metadata: {}, secretCiphertext: null });
        assert.equal(await store.clients.delete('gone'), true);
        assert.equal(await store.clients.find('gone'), undefined);
        assert.equal(await store.clients.delete('gone'), false);
      });
    });

    describe('permissions', () => {
      it('grants, changes (keeping createdAt), finds and revokes a level', async () => {
        const first = await store.permissions.set('u1', 'wiki', 'write');
        assert.deepEqual({ ...first, createdAt: 0, updatedAt: 0 }, { userId: 'u1', toolId: 'wiki', level: 'write', createdAt: 0, updatedAt: 0 });
        await new Promise((r) => setTimeout(r, 5));
        const second = await store.permissions.set('u1', 'wiki', 'read');
        assert.equal(second.createdAt, first.createdAt);
        assert.ok(second.updatedAt > first.updatedAt);
        assert.deepEqual(await store.permissions.find('u1', 'wiki'), second);
        assert.equal(await store.permissions.find('u1', 'ci'), undefined);
        assert.equal(await store.permissions.revoke('u1', 'wiki'), true);
        assert.equal(await store.permissions.revoke('u1', 'wiki'), false);
        assert.equal(await store.permissions.find('u1', 'wiki'), undefined);
      });

      it('lists by user and by tool, and deletes by either', async () => {
        await store.permissions.set('u2', 'wiki', 'read');
        await store.permissions.set('u1', 'wiki', 'admin');
        await store.permissions.set('u1', 'ci', 'write');
        const pairs = (ps: { userId: string; toolId: string }[]) => ps.map((p) => `${p.userId}@${p.toolId}`);
        assert.deepEqual(pairs(await store.permissions.listForUser('u1')), ['u1@ci', 'u1@wiki']);
        assert.deepEqual(pairs(await store.permissions.listForTool('wiki')), ['u1@wiki', 'u2@wiki']);
        await store.permissions.deleteForTool('wiki');
        assert.deepEqual(pairs(await store.permissions.listForUser('u1')), ['u1@ci']);
        assert.deepEqual(pairs(await store.permissions.listForUser('u2')), []);
        await store.permissions.deleteForUser('u1');
        assert.deepEqual(pairs(await store.permissions.listForTool('ci')), []);
      });

      it('parallel grants of one pair leave one record', async () => {
        await Promise.all((['read', 'write', 'admin', 'read'] as const).map((level) => store.permissions.set('u1', 'wiki', level)));
        assert.equal((await store.permissions.listForUser('u1')).length, 1);
      });
    });

    describe('api keys', () => {
      const apiKey = (id: string, userId = 'u1'): ApiKeyRecord => ({
        id,
        userId,
        name: `key ${id}`,
        keyHash: `hash-${id}`,
        prefix: `ghk_${id}`,
        toolId: null,
        readOnly: false,
        createdAt: Date.now(),
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
      });

      it('creates and finds a key by hash and by id', async () => {
        const key = { ...apiKey('k1'), toolId: 'wiki', readOnly: true, expiresAt: Date.now() + 60_000 };
        await store.apiKeys.create(key);
        assert.deepEqual(await store.apiKeys.findByHash('hash-k1'), key);
        assert.deepEqual(await store.apiKeys.findById('k1'), key);
        assert.equal(await store.apiKeys.findByHash('hash-k2'), undefined);
        await assert.rejects(store.apiKeys.create({ ...apiKey('k2'), keyHash: 'hash-k1' }), AlreadyExistsError);
      });

      it('lists a user\'s keys oldest first, revoked ones included', async () => {
        await store.apiKeys.create({ ...apiKey('old'), createdAt: 1000 });
        await store.apiKeys.create({ ...apiKey('new'), createdAt: 2000 });
        await store.apiKeys.create(apiKey('theirs', 'u2'));
        await store.apiKeys.revoke('old', 3000);
        assert.deepEqual((await store.apiKeys.listForUser('u1')).map((k) => [k.id, k.revokedAt]), [['old', 3000], ['new', null]]);
        await store.apiKeys.deleteForUser('u1');
        assert.deepEqual(await store.apiKeys.listForUser('u1'), []);
        assert.equal((await store.apiKeys.listForUser('u2')).length, 1);
      });

      it('revokes once, first revocation time kept', async () => {
        await store.apiKeys.create(apiKey('k1'));
        assert.equal(await store.apiKeys.revoke('k1', 5000), true);
        assert.equal(await store.apiKeys.revoke('k1', 6000), false);
        assert.equal(await store.apiKeys.revoke('missing', 6000), false);
        assert.equal((await store.apiKeys.findByHash('hash-k1'))?.revokedAt, 5000);
      });

      it('records the last use', async () => {
        await store.apiKeys.create(apiKey('k1'));
        await store.apiKeys.touch('k1', 7000);
        assert.equal((await store.apiKeys.findById('k1'))?.lastUsedAt, 7000);
      });
    });

    describe('audit log', () => {
      const event = (id: string, at: number, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
        id,
        at,
        action: 'user.updated',
        actor: { type: 'user', id: 'admin-1' },
        target: { type: 'user', id: 'u1' },
        ip: '203.0.113.9',
        details: { fields: ['name'] },
        ...overrides,
      });

      it('appends events and lists them newest first, round-tripping every field', async () => {
        const withKey = event('0002', 2000, { actor: { type: 'user', id: 'admin-1', apiKeyId: 'k1' } });
        await store.audit.append(event('0001', 1000, { target: null, ip: null, actor: { type: 'anonymous', id: null }, details: {} }));
        await store.audit.append(withKey);
        const listed = await store.audit.list({ limit: 10 });
        assert.deepEqual(listed.map((e) => e.id), ['0002', '0001']);
        assert.deepEqual(listed[0], withKey);
        assert.deepEqual(listed[1], event('0001', 1000, { target: null, ip: null, actor: { type: 'anonymous', id: null }, details: {} }));
      });

      it('filters by action, actor, target and time, and pages with `before`', async () => {
        await store.audit.append(event('0001', 1000, { action: 'login.failed', actor: { type: 'anonymous', id: null } }));
        await store.audit.append(event('0002', 2000, { action: 'login.succeeded', actor: { type: 'user', id: 'u1' } }));
        await store.audit.append(event('0003', 3000, { target: { type: 'user', id: 'u2' } }));
        await store.audit.append(event('0004', 4000));
        const ids = async (q: Omit<AuditQuery, 'limit'>, limit = 10) => (await store.audit.list({ ...q, limit })).map((e) => e.id);
        assert.deepEqual(await ids({ action: 'login.failed' }), ['0001']);
        assert.deepEqual(await ids({ actorId: 'u1' }), ['0002']);
        assert.deepEqual(await ids({ targetId: 'u2' }), ['0003']);
        assert.deepEqual(await ids({ since: 2000, until: 3000 }), ['0003', '0002']);
        assert.deepEqual(await ids({}, 2), ['0004', '0003']);
        assert.deepEqual(await ids({ before: '0003' }, 2), ['0002', '0001']);
      });
    });

    describe('signing keys', () => {
      const key = (kid: string, createdAt: number): SigningKeyRecord => ({
        kid,
        alg: 'ES256',
        publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid },
        privateJwkCiphertext: 'v1.cipher',
        createdAt,
        activatesAt: createdAt,
        retiresAt: null,
      });

      it('inserts and lists oldest first; refuses a duplicate kid', async () => {
        await store.signingKeys.insert(key('k2', 2000));
        await store.signingKeys.insert(key('k1', 1000));
        assert.deepEqual((await store.signingKeys.list()).map((k) => k.kid), ['k1', 'k2']);
        assert.deepEqual((await store.signingKeys.list())[0], key('k1', 1000));
        await assert.rejects(store.signingKeys.insert(key('k1', 3000)), AlreadyExistsError);
      });

      it('retire sets retiresAt once; delete removes', async () => {
        await store.signingKeys.insert(key('k1', 1000));
        await store.signingKeys.retire('k1', 5000);
        await store.signingKeys.retire('k1', 9000);
        assert.equal((await store.signingKeys.list())[0]?.retiresAt, 5000);
        await store.signingKeys.delete('k1');
        assert.deepEqual(await store.signingKeys.list(), []);
      });
    });

    describe('action tokens', () => {
      const token = (tokenHash: string, userId = 'u1', purpose: ActionPurpose = 'reset-password', ttlMs = 60_000): ActionTokenRecord => ({
        tokenHash,
        purpose,
        userId,
        data: { email: 'a@example.com' },
        createdAt: Date.now(),
        expiresAt: Date.now() + ttlMs,
      });

      it('finds without using up, and redeems exactly once', async () => {
        const issued = token('h1');
        await store.actionTokens.issue(issued);
        assert.deepEqual(await store.actionTokens.find('h1', 'reset-password'), issued);
        assert.deepEqual(await store.actionTokens.find('h1', 'reset-password'), issued, 'finding does not use it up');
        assert.deepEqual((await store.actionTokens.redeem('h1', 'reset-password'))?.data, { email: 'a@example.com' });
        assert.equal(await store.actionTokens.redeem('h1', 'reset-password'), undefined);
        assert.equal(await store.actionTokens.find('h1', 'reset-password'), undefined);
      });

      it('is bound to its purpose', async () => {
        await store.actionTokens.issue(token('h1', 'u1', 'magic-link'));
        assert.equal(await store.actionTokens.find('h1', 'reset-password'), undefined);
        assert.equal(await store.actionTokens.redeem('h1', 'reset-password'), undefined);
        assert.ok(await store.actionTokens.redeem('h1', 'magic-link'));
      });

      it('a newer token voids the older one of the same user and purpose only', async () => {
        await store.actionTokens.issue(token('old', 'u1', 'reset-password'));
        await store.actionTokens.issue(token('verify', 'u1', 'verify-email'));
        await store.actionTokens.issue(token('other-user', 'u2', 'reset-password'));
        await store.actionTokens.issue(token('new', 'u1', 'reset-password'));
        assert.equal(await store.actionTokens.find('old', 'reset-password'), undefined);
        assert.ok(await store.actionTokens.find('new', 'reset-password'));
        assert.ok(await store.actionTokens.find('verify', 'verify-email'));
        assert.ok(await store.actionTokens.find('other-user', 'reset-password'));
      });

      it('expired tokens are neither found nor redeemed, and the sweeper deletes them', async () => {
        await store.actionTokens.issue(token('gone', 'u1', 'magic-link', -1000));
        await store.actionTokens.issue(token('live', 'u2', 'magic-link'));
        assert.equal(await store.actionTokens.find('gone', 'magic-link'), undefined);
        assert.equal(await store.actionTokens.redeem('gone', 'magic-link'), undefined);
        assert.ok((await store.sweepExpired()) >= 1);
        assert.ok(await store.actionTokens.find('live', 'magic-link'));
      });

      it('of 20 parallel redemptions exactly one gets the token', async () => {
        await store.actionTokens.issue(token('race'));
        const results = await Promise.all(Array.from({ length: 20 }, () => store.actionTokens.redeem('race', 'reset-password')));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('deleteForUser removes all of a user\'s tokens', async () => {
        await store.actionTokens.issue(token('a', 'u1', 'reset-password'));
        await store.actionTokens.issue(token('b', 'u1', 'verify-email'));
        await store.actionTokens.issue(token('c', 'u2', 'verify-email'));
        await store.actionTokens.deleteForUser('u1');
        assert.equal(await store.actionTokens.find('a', 'reset-password'), undefined);
        assert.equal(await store.actionTokens.find('b', 'verify-email'), undefined);
        assert.ok(await store.actionTokens.find('c', 'verify-email'));
      });
    });

    describe('identities', () => {
      const identity = (provider: string, subject: string, userId: string) => ({
        provider,
        subject,
        userId,
        email: `${subject}@example.com`,
        name: 'Upstream Name',
        picture: 'https://upstream.example/a.png',
        createdAt: 1000,
      });

      it('links, finds by (provider, subject), lists per user, unlinks and deletes', async () => {
        await store.identities.link(identity('google', 's1', 'u1'));
        await store.identities.link(identity('github', 's1', 'u1'));
        await store.identities.link(identity('google', 's2', 'u2'));
        assert.deepEqual(await store.identities.find('google', 's1'), identity('google', 's1', 'u1'));
        assert.equal(await store.identities.find('google', 's3'), undefined);
        assert.deepEqual((await store.identities.listForUser('u1')).map((i) => i.provider).sort(), ['github', 'google']);
        assert.equal(await store.identities.unlink('u2', 'google', 's1'), false, "not another user's identity");
        assert.equal(await store.identities.unlink('u1', 'google', 's1'), true);
        assert.equal(await store.identities.find('google', 's1'), undefined);
        await store.identities.deleteForUser('u1');
        assert.deepEqual(await store.identities.listForUser('u1'), []);
        assert.ok(await store.identities.find('google', 's2'));
      });

      it('lists a person\'s identities in the order they were linked, by provider within one millisecond', async () => {
        for (const [provider, createdAt] of [['google', 3000], ['okta', 1000], ['github', 1000]] as const) {
          await store.identities.link({ ...identity(provider, 'ordered', 'u1'), createdAt });
        }
        assert.deepEqual((await store.identities.listForUser('u1')).map((i) => i.provider), ['github', 'okta', 'google']);
      });

      it('links one upstream identity to one user only, even in parallel', async () => {
        const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.identities.link(identity('google', 'same', `u${i}`))));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError);
      });
    });

    describe('second factors', () => {
      const totp = { secretCiphertext: 'v1.secret', confirmed: false, createdAt: 1000 };

      it('stores, replaces and deletes an authenticator with its codes', async () => {
        assert.equal(await store.secondFactors.getTotp('u1'), undefined);
        await store.secondFactors.putTotp('u1', totp);
        assert.deepEqual(await store.secondFactors.getTotp('u1'), totp);
        await store.secondFactors.putTotp('u1', { ...totp, confirmed: true });
        assert.equal((await store.secondFactors.getTotp('u1'))?.confirmed, true);
        await store.secondFactors.replaceRecoveryCodes('u1', ['h1', 'h2']);
        await store.secondFactors.claimTotpStep('u1', 100, Date.now() + 60_000);
        await store.secondFactors.deleteAll('u1');
        assert.equal(await store.secondFactors.getTotp('u1'), undefined);
        assert.equal(await store.secondFactors.countRecoveryCodes('u1'), 0);
        assert.equal(await store.secondFactors.claimTotpStep('u1', 100, Date.now() + 60_000), true, 'used steps go too');
      });

      it('claims a step once, refuses older steps after a newer one, per user', async () => {
        const later = Date.now() + 60_000;
        assert.equal(await store.secondFactors.claimTotpStep('u1', 100, later), true);
        assert.equal(await store.secondFactors.claimTotpStep('u1', 100, later), false);
        assert.equal(await store.secondFactors.claimTotpStep('u1', 99, later), false, 'an older step after a newer one');
        assert.equal(await store.secondFactors.claimTotpStep('u1', 101, later), true);
        assert.equal(await store.secondFactors.claimTotpStep('u2', 100, later), true);
      });

      it('of 20 parallel claims of one step exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.secondFactors.claimTotpStep('race', 555, Date.now() + 60_000)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('uses each recovery code once; a new set voids the old one', async () => {
        await store.secondFactors.replaceRecoveryCodes('u1', ['a', 'b', 'c']);
        assert.equal(await store.secondFactors.countRecoveryCodes('u1'), 3);
        assert.equal(await store.secondFactors.useRecoveryCode('u1', 'b'), true);
        assert.equal(await store.secondFactors.useRecoveryCode('u1', 'b'), false);
        assert.equal(await store.secondFactors.useRecoveryCode('u2', 'a'), false, 'codes belong to their user');
        await store.secondFactors.replaceRecoveryCodes('u1', ['d']);
        assert.equal(await store.secondFactors.useRecoveryCode('u1', 'a'), false);
        assert.equal(await store.secondFactors.countRecoveryCodes('u1'), 1);
        const parallel = await Promise.all(Array.from({ length: 10 }, () => store.secondFactors.useRecoveryCode('u1', 'd')));
        assert.equal(parallel.filter(Boolean).length, 1);
      });
    });

    describe('attempts', () => {
      it('counts attempts per key since a time, forgets a key, and sweeps expired ones', async () => {
        const now = Date.now();
        await store.attempts.record(['login:email:a', 'login:ip:1'], now - 5000, now + 60_000);
        await store.attempts.record(['login:email:a', 'login:ip:1'], now - 1000, now + 60_000);
        await store.attempts.record(['login:email:b', 'login:ip:1'], now, now + 60_000);
        assert.equal(await store.attempts.count('login:email:a', now - 10_000), 2);
        assert.equal(await store.attempts.count('login:email:a', now - 2000), 1, 'only those since the given time');
        assert.equal(await store.attempts.count('login:ip:1', now - 10_000), 3);
        assert.equal(await store.attempts.count('login:email:nobody', 0), 0);
        await store.attempts.clear('login:email:a');
        assert.equal(await store.attempts.count('login:email:a', 0), 0);
        assert.equal(await store.attempts.count('login:ip:1', 0), 3);
        await store.attempts.record(['old'], now - 5000, now - 1);
        assert.equal(await store.attempts.count('old', 0), 0, 'expired attempts do not count');
        assert.ok((await store.sweepExpired(now)) >= 1);
      });

      it('a weighted record counts as that many attempts', async () => {
        const now = Date.now();
        await store.attempts.record(['token:client:w'], now - 2000, now + 60_000, 40);
        await store.attempts.record(['token:client:w'], now - 500, now + 60_000, 2);
        await store.attempts.record(['token:client:w'], now, now + 60_000);
        assert.equal(await store.attempts.count('token:client:w', now - 10_000), 43);
        assert.equal(await store.attempts.count('token:client:w', now - 1000), 3, 'only those since the given time');
      });

      it('counts every one of many parallel attempts', async () => {
        const now = Date.now();
        await Promise.all(Array.from({ length: 25 }, () => store.attempts.record(['burst'], now, now + 60_000)));
        assert.equal(await store.attempts.count('burst', now - 1), 25);
      });
    });

    describe('avatars', () => {
      it('stores, replaces, reads and deletes a user\'s picture byte for byte', async () => {
        const first = { image: Buffer.from([0, 1, 2, 255, 254]), contentType: 'image/webp', updatedAt: 1000 };
        const second = { image: Buffer.alloc(64 * 1024, 7), contentType: 'image/webp', updatedAt: 2000 };
        assert.equal(await store.avatars.get('u1'), undefined);
        assert.equal(await store.avatars.version('u1'), undefined);
        await store.avatars.put('u1', first);
        assert.deepEqual(await store.avatars.get('u1'), first);
        assert.equal(await store.avatars.version('u1'), 1000);
        await store.avatars.put('u1', second);
        await store.avatars.put('u2', first);
        assert.deepEqual(await store.avatars.get('u1'), second);
        await store.avatars.delete('u1');
        assert.equal(await store.avatars.get('u1'), undefined);
        assert.deepEqual(await store.avatars.get('u2'), first);
      });
    });

    it('ping resolves while the database is reachable', async () => {
      await store.ping();
    });
  });
}
