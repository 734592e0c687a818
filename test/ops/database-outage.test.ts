import assert from 'node:assert/strict';
import { Database } from '../../adapters/sqlite/driver.js';
import * as oidc from 'openid-client';
import { CLIENT_CACHE_TTL_MS } from '../../src/store/client-cache.js';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi, keyFor } from '../helpers/management.js';
import { startFerretdb, withDatabase, type RestartableMongoServer } from '../helpers/mongo-server.js';
import { discover, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

/**
 * The MongoDB-wire server stops under a running Gatehouse and comes back: requests that
 * need it fail closed with 503 and Retry-After (never a 500, never a token), readiness
 * turns red, and everything works again once it returns, without a restart.
 */
describe('database outage on mongodb', function () {
  this.timeout(90_000);
  let ferret: RestartableMongoServer;
  let server: TestServer;
  let machine: oidc.Configuration;
  let key: string;

  before(async () => {
    ferret = await startFerretdb();
    server = await startTestServer(withDatabase(ferret.uri, 'outage'));
    machine = await discover(server.issuer, await server.createClient({ grant_types: ['client_credentials'] }));
    key = await keyFor(server, await server.createUser());
  });
  after(async () => {
    await server?.stop();
    await ferret?.stop();
  });

  const unavailable = (res: { status: number; headers: Headers }, what: string) => {
    assert.equal(res.status, 503, what);
    assert.equal(res.headers.get('retry-after'), '5', what);
  };

  it('answers 503 with Retry-After while the database is down, and recovers by itself', async () => {
    assert.ok((await oidc.clientCredentialsGrant(machine)).access_token);
    const clientLastRead = Date.now();
    assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 200);

    await ferret.down();

    unavailable(await fetch(`${server.issuer}/readyz`), '/readyz');
    const api = await callApi(server, key, 'GET', '/api/me');
    unavailable(api, '/api/me');
    assert.deepEqual(Object.keys(api.body), ['error', 'error_description']);
    assert.equal(api.body.error, 'temporarily_unavailable');

    // The machine client was read within the client cache's TTL and may still get a token
    // from memory; once that has passed, the token endpoint needs the store and fails closed.
    await new Promise((r) => setTimeout(r, Math.max(0, clientLastRead + CLIENT_CACHE_TTL_MS + 100 - Date.now())));
    // openid-client reports a 503 as an unexpected status, with the response as the cause.
    const tokenError = await oidc.clientCredentialsGrant(machine).then(
      () => assert.fail('a token was issued while the database was down'),
      (err: Error) => err.cause as Response,
    );
    unavailable(tokenError, '/token');
    assert.equal(((await tokenError.json()) as { error: string }).error, 'temporarily_unavailable');

    const { url } = await pkceAuthorizationUrl(machine, { redirect_uri: REDIRECT });
    const page = await new UserAgent().open(url.toString(), REDIRECT);
    unavailable(page, 'the authorization endpoint');
    assert.match(page.html, /temporarily unavailable/);
    assert.doesNotMatch(page.html, /at .*\.ts:\d+/, 'no stack trace');

    assert.equal((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status, 200, 'discovery needs no database');

    await ferret.up();
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = (await fetch(`${server.issuer}/readyz`)).status === 200;
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ready, 'ready again without a restart');
    assert.ok((await oidc.clientCredentialsGrant(machine)).access_token);
    assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 200);
  });
});

/**
 * The SQLite file cannot be written (here: another process holds its write lock past the
 * busy timeout): writes fail closed with 503 and leave nothing behind, reads go on, and
 * writes work again once the file is free.
 */
describe('database outage on sqlite', function () {
  this.timeout(60_000);
  it('answers 503 with Retry-After while the file cannot be written, writes nothing, and recovers', async () => {
    const url = await backends[0]!.freshDatabaseUrl();
    const server = await startTestServer(url);
    const blocker = new Database(url.replace(/^sqlite:/, ''));
    try {
      const { key } = await adminCredential(server);
      blocker.exec('BEGIN EXCLUSIVE');
      const refused = await callApi(server, key, 'POST', '/api/users', { email: 'during-outage@example.com' });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '5');
      assert.equal(refused.body.error, 'temporarily_unavailable');
      assert.equal((await callApi(server, key, 'GET', '/api/me')).status, 200, 'reads go on');
      blocker.exec('ROLLBACK');

      const list = await callApi(server, key, 'GET', '/api/users?email=during-outage');
      assert.deepEqual(list.body.data, [], 'the refused write left nothing behind');
      assert.equal((await callApi(server, key, 'POST', '/api/users', { email: 'during-outage@example.com' })).status, 201);
    } finally {
      blocker.close();
      await server.stop();
    }
  });
});
