import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { discover, login, silentAuthorization } from '../helpers/relying-party.js';
import type { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('session lifetime', function () {
  this.timeout(60_000);
  let server: TestServer;
  let config: oidc.Configuration;
  let email: string;

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), { SESSION_IDLE_TTL: '2', SESSION_TTL: '6' });
    email = (await server.createUser()).email;
    config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
  });
  after(() => server?.stop());

  /** A silent re-authentication at the tool: true while the session lives. */
  const stillSignedIn = async (agent: UserAgent) => (await silentAuthorization(config, agent, REDIRECT)) === 'ok';

  it('ends a session left idle for SESSION_IDLE_TTL', async () => {
    const { agent } = await login(config, { redirectUri: REDIRECT, email });
    assert.equal(await stillSignedIn(agent), true);
    await sleep(3000);
    assert.equal(await stillSignedIn(agent), false);
  });

  it('keeps a used session past the idle limit, but never past SESSION_TTL', async () => {
    const { agent } = await login(config, { redirectUri: REDIRECT, email });
    const signedIn: boolean[] = [];
    // Used every second, well inside the 2 s idle limit, so only the 6 s cap can end it.
    for (let second = 1; second <= 8; second++) {
      await sleep(1000);
      signedIn.push(await stillSignedIn(agent));
    }
    assert.deepEqual(signedIn.slice(0, 4), [true, true, true, true], 'use keeps it alive past the idle limit');
    assert.equal(signedIn.at(-1), false, 'the absolute lifetime has passed');
  });
});
