import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { openMongoStore } from '../../adapters/mongodb/index.js';
import { AlreadyExistsError, StoreUnavailableError, type ActionTokenRecord, type Store, type UserQuery } from '../../src/store/port.js';
import { freePort } from '../helpers/free-port.js';
import { startMongoServer, withDatabase, type MongoServer } from '../helpers/mongo-server.js';
import { runStoreContract } from './contract.js';

let server: MongoServer | undefined;
const databases: string[] = [];

before(async function () {
  this.timeout(60_000);
  server = await startMongoServer();
});

after(async function () {
  this.timeout(30_000);
  if (!server) return;
  // Matters only for an external MONGODB_URI; a local FerretDB's data dir is deleted anyway.
  const admin = await mongoose.createConnection(server.uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
  for (const name of databases) await admin.useDb(name).dropDatabase();
  await admin.close();
  await server.stop();
});

// runStoreContract registers its tests at load time, before `before` has started the
// server, so the URI is read only when a test opens a store.
function freshUri(): string {
  if (!server) throw new Error('MongoDB test server not started');
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  databases.push(name);
  return withDatabase(server.uri, name);
}

function openFresh(): Promise<Store> {
  return openMongoStore(freshUri());
}

runStoreContract('mongodb', openFresh);

// FerretDB-specific hazards (see adapters/mongodb/schema.ts), beyond the shared contract.
describe('mongodb store: races on FerretDB', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openFresh();
  });
  afterEach(async () => {
    await store.close();
  });

  const token = (tokenHash: string, userId = 'u1'): ActionTokenRecord => ({
    tokenHash,
    purpose: 'reset-password',
    userId,
    data: {},
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  });

  // findOneAndDelete handed one token to up to 20 of 20 callers; one round can pass by luck.
  it('redeem has exactly one winner in each of 20 rounds of 20 parallel redemptions', async () => {
    for (let round = 0; round < 20; round++) {
      await store.actionTokens.issue(token(`race-${round}`, `u${round}`));
      const results = await Promise.all(Array.from({ length: 20 }, () => store.actionTokens.redeem(`race-${round}`, 'reset-password')));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
    }
  });

  it('parallel issues for one user and purpose all succeed and leave exactly one live token', async () => {
    const hashes = Array.from({ length: 20 }, (_, i) => `parallel-${i}`);
    await Promise.all(hashes.map((h) => store.actionTokens.issue(token(h))));
    const live = await Promise.all(hashes.map((h) => store.actionTokens.find(h, 'reset-password')));
    assert.equal(live.filter(Boolean).length, 1);
  });

  it('issue refuses a token hash that another user\'s token holds', async () => {
    await store.actionTokens.issue(token('same-hash', 'u1'));
    await assert.rejects(store.actionTokens.issue(token('same-hash', 'u2')), { code: 11000 });
    assert.equal((await store.actionTokens.find('same-hash', 'reset-password'))?.userId, 'u1');
  });

  // Were revokedAt a field of the key, a touch that read the key before the revocation
  // would write it back as null (FerretDB rewrites whole documents).
  it('a revocation survives touches of the key running alongside it', async () => {
    for (let round = 0; round < 10; round++) {
      const id = `busy-${round}`;
      await store.apiKeys.create({
        id, userId: 'u1', name: id, keyHash: `hash-${id}`, prefix: 'ghk_', toolId: null, readOnly: false,
        createdAt: Date.now(), expiresAt: null, lastUsedAt: null, revokedAt: null,
      });
      const touches = Array.from({ length: 10 }, (_, i) => store.apiKeys.touch(id, 1000 + i));
      await Promise.all([...touches, store.apiKeys.revoke(id, 5000)]);
      assert.equal((await store.apiKeys.findByHash(`hash-${id}`))?.revokedAt, 5000, `round ${round}`);
    }
  });

  it('of parallel revocations of a key exactly one wins', async () => {
    await store.apiKeys.create({
      id: 'k', userId: 'u1', name: 'k', keyHash: 'hash-k', prefix: 'ghk_', toolId: null, readOnly: false,
      createdAt: Date.now(), expiresAt: null, lastUsedAt: null, revokedAt: null,
    });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.apiKeys.revoke('k', 1000 + i)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  // FerretDB refuses such an update with InternalError, not a duplicate key; the lookup
  // before the update cannot see a parallel change, so this is the refusal's own path.
  it('of parallel changes of several users to one email exactly one wins', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `user-${i}`);
    for (const id of ids) {
      await store.users.create({ id, email: `${id}@example.com`, emailVerified: false, name: null, passwordHash: null, role: 'viewer' });
    }
    const results = await Promise.allSettled(ids.map((id) => store.users.update(id, { email: 'Same@example.com' })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError, String(r.reason));
    assert.equal((await store.users.list({ email: 'same@', limit: 10 })).length, 1);
  });

  it('revokeByAccount follows the accountId of the latest upsert', async () => {
    await store.oidc.upsert('Grant', 'g', { accountId: 'acc' }, 60);
    await store.oidc.upsert('Grant', 'g', { accountId: 'other' }, 60);
    await store.oidc.revokeByAccount('acc');
    assert.ok(await store.oidc.find('Grant', 'g'));
    await store.oidc.revokeByAccount('other');
    assert.equal(await store.oidc.find('Grant', 'g'), undefined);
  });
});

describe('mongodb store: documents from older versions', () => {
  let store: Store;
  let raw: mongoose.Connection;
  beforeEach(async () => {
    const uri = freshUri();
    store = await openMongoStore(uri);
    raw = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
  });
  afterEach(async () => {
    await raw.close();
    await store.close();
  });

  /** A user as versions before theme, role and status stored it. */
  const oldUser = (id: string, isAdmin: boolean) => ({
    id,
    email: `${id}@example.com`,
    emailVerified: true,
    name: 'Old',
    passwordHash: null,
    createdAt: 1,
    updatedAt: 1,
    isAdmin,
  });
  const insertRaw = async (doc: object) => {
    await raw.db!.collection('users').insertOne({ ...doc });
  };

  it('reads a user document written without a theme, role or status as theme system, an active viewer', async () => {
    const { isAdmin: _, ...old } = oldUser('old-user', false);
    await insertRaw(oldUser('old-user', false));
    assert.deepEqual(await store.users.findById('old-user'), { ...old, role: 'viewer', status: 'active', theme: 'system' });
  });

  it('reads an old document with isAdmin true as role admin', async () => {
    const { isAdmin: _, ...old } = oldUser('old-admin', true);
    await insertRaw(oldUser('old-admin', true));
    assert.deepEqual(await store.users.findById('old-admin'), { ...old, role: 'admin', status: 'active', theme: 'system' });
  });

  it('lists old documents under the role and status they read as', async () => {
    await insertRaw(oldUser('old-admin', true));
    await insertRaw(oldUser('old-viewer', false));
    await store.users.create({ id: 'new-admin', email: 'new-admin@example.com', emailVerified: true, name: null, passwordHash: null, role: 'admin' });
    const ids = async (query: Omit<UserQuery, 'limit'>) => (await store.users.list({ ...query, limit: 10 })).map((u) => u.id);
    assert.deepEqual(await ids({ role: 'admin' }), ['new-admin', 'old-admin']);
    assert.deepEqual(await ids({ role: 'viewer' }), ['old-viewer']);
    assert.deepEqual(await ids({ status: 'active' }), ['new-admin', 'old-admin', 'old-viewer']);
    assert.deepEqual(await ids({ status: 'disabled' }), []);
  });

  it('a role written to an old document replaces its isAdmin', async () => {
    await insertRaw(oldUser('old-admin', true));
    await store.users.update('old-admin', { role: 'viewer' });
    assert.equal((await store.users.findById('old-admin'))?.role, 'viewer');
    assert.deepEqual(await store.users.list({ role: 'admin', limit: 10 }), []);
    const doc = await raw.db!.collection('users').findOne({ id: 'old-admin' });
    assert.equal(doc && 'isAdmin' in doc, false);
  });
});

describe('mongodb store: unreachable server', () => {
  it('rejects opening with StoreUnavailableError instead of hanging', async function () {
    this.timeout(10_000);
    const port = await freePort();
    await assert.rejects(openMongoStore(`mongodb://127.0.0.1:${port}/x`), StoreUnavailableError);
  });
});
