import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { discover, login, silentAuthorization } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

const sessionCookie = (agent: UserAgent) => [...agent.cookies].find(([k]) => k.endsWith('|gatehouse.session'))?.[1];

describe('session cookies', function () {
  this.timeout(60_000);
  let server: TestServer;
  let config: oidc.Configuration;
  let email: string;

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    email = (await server.createUser()).email;
    config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://app.example.test/bye'] }));
  });
  after(() => server?.stop());

  it('gets a new session id at every sign-in; the old one no longer works', async () => {
    const { agent } = await login(config, { redirectUri: REDIRECT, email });
    const first = sessionCookie(agent)!;
    await login(config, { redirectUri: REDIRECT, email, agent, extra: { prompt: 'login' } });
    const second = sessionCookie(agent)!;
    assert.ok(first && second && first !== second);

    const replay = new UserAgent();
    const host = new URL(server.issuer).hostname;
    replay.cookies.set(`${host}|gatehouse.session`, first);
    assert.equal(await silentAuthorization(config, replay, REDIRECT), 'login_required');
  });

  it('a session cookie replayed after logout signs nobody in', async () => {
    const { agent, tokens } = await login(config, { redirectUri: REDIRECT, email });
    const stolen = new Map(agent.cookies);
    const confirm = await agent.open(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! }).toString());
    await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' });

    const replay = new UserAgent();
    for (const [k, v] of stolen) replay.cookies.set(k, v);
    assert.equal(await silentAuthorization(config, replay, REDIRECT), 'login_required');
  });

  it('return parameters become same-origin interaction paths or nothing', async () => {
    const agent = new UserAgent();
    for (const hostile of ['https://evil.example/x', '//evil.example', '/\\evil.example', '../../admin']) {
      const page = await agent.open(`${server.issuer}/account/register?interaction=${encodeURIComponent(hostile)}`);
      assert.doesNotMatch(page.html, /evil|admin|Already have an account/);
    }
    const fine = await agent.open(`${server.issuer}/account/forgot-password?interaction=abcdefghijklmnop`);
    assert.match(fine.html, /href="\/interaction\/abcdefghijklmnop"/);
  });
});

describe('cookies behind a TLS-terminating proxy', function () {
  this.timeout(60_000);
  let server: TestServer;
  let plain: string;

  before(async () => {
    const port = await freePort();
    plain = `http://127.0.0.1:${port}`;
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), { PORT: String(port), ISSUER: `https://login.example.test`, TRUST_PROXY: 'true' });
  });
  after(() => server?.stop());

  it('are Secure, and the session and CSRF cookies carry the __Host- prefix', async () => {
    const user = await server.createUser();
    const client = await server.createClient({ redirect_uris: [REDIRECT] });
    const agent = new UserAgent('https://login.example.test', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.example.test' });
    const auth = new URL(`${plain}/auth`);
    auth.search = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    const first = await agent.request(auth.toString(), { method: 'GET' });
    const cookies = first.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const c of cookies) assert.match(c, /; secure/i, c);

    const loginPage = await agent.open(new URL(first.headers.get('location')!, plain).toString());
    const csrfCookie = [...agent.cookies.keys()].find((k) => k.includes('csrf'))!;
    assert.match(csrfCookie, /\|__Host-gatehouse\.csrf$/);
    const afterLogin = await agent.submit({ ...loginPage, url: new URL(new URL(loginPage.url).pathname, plain).toString() }, '/login', { email: user.email, password: TEST_PASSWORD }, 'https://');
    const resume = await agent.request(afterLogin.url.replace('https://login.example.test', plain), { method: 'GET' });
    const session = resume.headers.getSetCookie().find((c) => c.startsWith('__Host-gatehouse.session='));
    assert.ok(session, resume.headers.getSetCookie().join('\n'));
    assert.match(session, /; path=\/;/i);
    assert.match(session, /; secure/i);
    assert.match(session, /; httponly/i);
    assert.doesNotMatch(session, /domain=/i);
  });
});
