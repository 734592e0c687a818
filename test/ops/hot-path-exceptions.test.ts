import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { callApi, keyFor } from '../helpers/management.js';
import { discover, login } from '../helpers/relying-party.js';
import { ThrownExceptions } from '../helpers/thrown-exceptions.js';

const REDIRECT = 'https://wiki.example.test/callback';

/**
 * A thrown exception captures a stack trace, and in a busy server that costs 10–20 µs,
 * five to ten times what it costs in a loop: optimised frames have to be unpacked.
 * Node 24.21 threw two on every HMAC keyed by a Buffer, keygrip four on every signed
 * cookie read, koa-views one on every page render. The requests a deployment serves
 * most should throw none. (The embedded store only: this is about our code and Node's,
 * not a driver's.)
 */
describe('the most frequent requests throw no exception on the server side', function () {
  this.timeout(60_000);
  let server: TestServer;
  let requests: () => Promise<void>;

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    const user = await server.createUser();
    await server.store.permissions.set(user.id, 'wiki', 'read');
    const apiKey = await keyFor(server, user);
    const wiki = await discover(server.issuer, await server.createClient({ client_id: 'wiki', redirect_uris: [REDIRECT] }));
    const machine = await discover(server.issuer, await server.createClient({ grant_types: ['client_credentials'], redirect_uris: [] }));

    requests = async () => {
      const validated = await callApi(server, apiKey, 'POST', '/api/validate', { tool: 'wiki' });
      assert.equal(validated.body.permission, 'read');
      assert.ok((await oidc.clientCredentialsGrant(machine, { resource: 'https://api.example.test' })).access_token);
      const { tokens } = await login(wiki, { redirectUri: REDIRECT, email: user.email, scope: 'openid email' });
      assert.equal((await oidc.fetchUserInfo(wiki, tokens.access_token, user.id)).email, user.email);
    };
    // Once before recording: first uses load modules and compile templates.
    await requests();
  });
  after(() => server?.stop());

  it('validates an API key, issues a client_credentials token, signs a person in and answers userinfo', async () => {
    assert.deepEqual(await new ThrownExceptions().during(requests), []);
  });
});
