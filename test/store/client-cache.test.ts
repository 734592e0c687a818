import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withClientCache } from '../../src/store/client-cache.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/port.js';

const TTL_MS = 300;
const app = (uri: string) => ({ clientId: 'app', metadata: { redirect_uris: [uri] }, secretCiphertext: null });

describe('client cache', () => {
  let store: Store;
  let cached: Store;

  beforeEach(async () => {
    store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'gatehouse-client-cache-')), 'gatehouse.db')}`);
    cached = withClientCache(store, TTL_MS);
  });
  afterEach(() => store.close());

  it("trusts a client it read for the TTL, then reads it again: another instance's change shows within the TTL", async () => {
    await store.clients.upsert(app('https://a/cb'));
    assert.deepEqual((await cached.clients.find('app'))?.metadata, { redirect_uris: ['https://a/cb'] });
    await store.clients.upsert(app('https://b/cb'));
    assert.deepEqual((await cached.clients.find('app'))?.metadata, { redirect_uris: ['https://a/cb'] }, 'served from memory');
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    assert.deepEqual((await cached.clients.find('app'))?.metadata, { redirect_uris: ['https://b/cb'] });
  });

  it('a change or deletion through the cached store counts at once', async () => {
    await cached.clients.upsert(app('https://a/cb'));
    await cached.clients.find('app');
    await cached.clients.upsert(app('https://b/cb'));
    assert.deepEqual((await cached.clients.find('app'))?.metadata, { redirect_uris: ['https://b/cb'] });
    assert.equal(await cached.clients.delete('app'), true);
    assert.equal(await cached.clients.find('app'), undefined);
  });

  it('does not remember a miss: a client registered elsewhere is found at once', async () => {
    assert.equal(await cached.clients.find('app'), undefined);
    await store.clients.upsert(app('https://a/cb'));
    assert.ok(await cached.clients.find('app'));
  });
});
