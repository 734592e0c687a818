import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { registerClient, type RegisteredClient } from '../../src/access/clients.js';
import { Secrets } from '../../src/security/secrets.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_SECRET, testEnv } from '../helpers/gatehouse.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discoverThrough } from '../helpers/relying-party.js';

const LIMIT = 5;

/** A client_credentials grant: 'ok', or the status and error code the token endpoint refused with. */
async function tokenRequest(config: oidc.Configuration): Promise<string> {
  try {
    await oidc.clientCredentialsGrant(config);
    return 'ok';
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError) {
      assert.equal(err.response.headers.get('retry-after'), '60');
      return `${err.status} ${err.error}`;
    }
    throw err;
  }
}

/** Waits until every instance has written its counts (they sync once a second). */
async function recorded(store: Store, clientId: string, expected: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await store.attempts.count(`rate:token:client:${clientId}`, Date.now() - 60_000)) === expected) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the store never recorded ${expected} token requests of ${clientId}`);
}

for (const backend of backends) {
  describe(`token endpoint rate limit per client on ${backend.name}`, function () {
    this.timeout(120_000);
    let a: ServerProcess;
    let b: ServerProcess;
    let env: Record<string, string>;
    let store: Store;
    let basic: RegisteredClient;
    let post: RegisteredClient;
    let other: RegisteredClient;

    before(async () => {
      env = await testEnv(await backend.freshDatabaseUrl(), { RATE_LIMIT_TOKEN_PER_CLIENT: String(LIMIT) });
      store = await openStore(env.DATABASE_URL!);
      const secrets = new Secrets(TEST_SECRET);
      const machine = (name: string, method: 'client_secret_basic' | 'client_secret_post' = 'client_secret_basic') =>
        registerClient(store, secrets, { client_name: name, grant_types: ['client_credentials'], token_endpoint_auth_method: method });
      basic = await machine('Basic');
      post = await machine('Post', 'client_secret_post');
      other = await machine('Other');
      // One public issuer, as behind a load balancer; each instance listens on its own port.
      a = await spawnServer(env);
      b = await spawnServer({ ...env, PORT: String(await freePort()) });
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await store?.close();
    });

    it('one budget across instances: 429 with Retry-After once it is spent, and other clients are unaffected', async () => {
      const onA = await discoverThrough(a.url, env.ISSUER!, basic);
      const onB = await discoverThrough(b.url, env.ISSUER!, basic);
      for (let i = 0; i < 3; i++) assert.equal(await tokenRequest(onA), 'ok');
      await recorded(store, basic.client_id, 3);

      // B has not served this client yet, and still knows what A spent.
      assert.equal(await tokenRequest(onB), 'ok');
      assert.equal(await tokenRequest(onB), 'ok');
      assert.equal(await tokenRequest(onB), '429 too_many_requests');

      // A learns of B's requests at its next sync.
      await recorded(store, basic.client_id, LIMIT);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await tokenRequest(onA), '429 too_many_requests');

      assert.equal(await tokenRequest(await discoverThrough(a.url, env.ISSUER!, other)), 'ok');
    });

    it('also limits a client that authenticates in the body, whose requests still parse', async () => {
      const onA = await discoverThrough(a.url, env.ISSUER!, post, oidc.ClientSecretPost(post.client_secret!));
      for (let i = 0; i < LIMIT; i++) assert.equal(await tokenRequest(onA), 'ok');
      assert.equal(await tokenRequest(onA), '429 too_many_requests');
    });

    it('refused requests are not counted, and the refusals show in /metrics', async () => {
      const metrics = await (await fetch(`${a.url}/metrics`)).text();
      const refused = Number(/gatehouse_rate_limited_total\{limit="token"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(refused >= 2, metrics);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await store.attempts.count(`rate:token:client:${post.client_id}`, Date.now() - 60_000), LIMIT);
    });
  });
}
