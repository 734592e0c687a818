import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/access/clients.js';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { authorize, discover, login } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

const isOAuthError = (code: string) => (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === code;

/** Sends `n` copies of a request at once; counts successes and checks every failure is `code`. */
async function race<T>(n: number, attempt: () => Promise<T>, code: string): Promise<number> {
  const results = await Promise.allSettled(Array.from({ length: n }, attempt));
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(isOAuthError(code)(r.reason), `expected ${code}, got ${String(r.reason)} ${(r.reason as { status?: number })?.status}`);
  }
  return results.filter((r) => r.status === 'fulfilled').length;
}

for (const backend of backends) {
  describe(`single-use codes and refresh tokens under concurrency on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let user: UserRecord;
    let config: oidc.Configuration;
    before(async () => {
      server = await startTestServer(await backend.freshDatabaseUrl());
      user = await server.createUser();
      config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
    });
    after(() => server?.stop());

    it('20 parallel redemptions of one code: exactly one succeeds, the rest get invalid_grant', async () => {
      const { callbackUrl, verifier, state } = await authorize(config, { redirectUri: REDIRECT, email: user.email });
      const wins = await race(20, () => oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }), 'invalid_grant');
      assert.equal(wins, 1);
    });

    it('20 parallel refreshes of one refresh token: exactly one succeeds', async () => {
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });
      const wins = await race(20, () => oidc.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
      assert.equal(wins, 1);
    });
  });
}

describe('authorization server rules (RFC 9700, OIDC Core)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let user: UserRecord;
  let client: RegisteredClient;
  let config: oidc.Configuration;

  const authUrl = (params: Record<string, string>) => {
    const url = new URL(`${server.issuer}/auth`);
    const defaults = { client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 'st' };
    for (const [k, v] of Object.entries({ ...defaults, ...params })) if (v !== '') url.searchParams.set(k, v);
    return url.toString();
  };
  const get = (url: string) => fetch(url, { redirect: 'manual' });

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    user = await server.createUser();
    client = await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://app.example.test/bye'] });
    config = await discover(server.issuer, client);
  });
  after(() => server?.stop());

  describe('redirect URIs', () => {
    const variants = {
      'case-changed host': 'https://APP.example.test/callback',
      'trailing slash': 'https://app.example.test/callback/',
      'added query': 'https://app.example.test/callback?x=1',
      fragment: 'https://app.example.test/callback#x',
      'encoded ..': 'https://app.example.test/callback/%2e%2e/evil',
      'userinfo part': 'https://attacker@app.example.test/callback',
      'other scheme': 'http://app.example.test/callback',
      'other port': 'https://app.example.test:8443/callback',
    };
    for (const [what, uri] of Object.entries(variants)) {
      it(`refuses a ${what} with an error page and no redirect`, async () => {
        const res = await get(authUrl({ redirect_uri: uri }));
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        assert.match(await res.text(), /invalid_redirect_uri/);
      });
    }

    it('refuses an unknown client_id with an error page, never a redirect', async () => {
      const res = await get(authUrl({ client_id: 'no-such-client' }));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
    });

    it('lets a native client use any port on its loopback redirect URI, and nothing else (RFC 8252 §7.3)', async () => {
      const native = await server.createClient({ public: true, application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] });
      const url = (redirect: string) => authUrl({ client_id: native.client_id, redirect_uri: redirect });
      const ok = await get(url('http://127.0.0.1:51234/cb'));
      assert.equal(ok.status, 303);
      assert.match(ok.headers.get('location')!, /^\/interaction\//);
      const bad = await get(url('http://127.0.0.1:51234/other'));
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('location'), null);
    });

    it('refuses a token request whose redirect_uri differs from the authorization request', async () => {
      const other = 'https://app.example.test/other';
      const multi = await server.createClient({ redirect_uris: [REDIRECT, other] });
      const multiConfig = await discover(server.issuer, multi);
      const { callbackUrl, verifier, state } = await authorize(multiConfig, { redirectUri: REDIRECT, email: user.email });
      const moved = new URL(`${other}${callbackUrl.search}`);
      await assert.rejects(oidc.authorizationCodeGrant(multiConfig, moved, { pkceCodeVerifier: verifier, expectedState: state }), isOAuthError('invalid_grant'));
    });
  });

  describe('PKCE', () => {
    const errorFromRedirect = async (params: Record<string, string>) => {
      const res = await get(authUrl(params));
      assert.equal(res.status, 303);
      const location = new URL(res.headers.get('location')!);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      return location.searchParams;
    };

    it('is required for a confidential client too, and the error carries iss (RFC 9207)', async () => {
      const params = await errorFromRedirect({ code_challenge: '', code_challenge_method: '' });
      assert.equal(params.get('error'), 'invalid_request');
      assert.match(params.get('error_description')!, /PKCE/);
      assert.equal(params.get('iss'), server.issuer);
      assert.equal(params.get('state'), 'st');
    });

    it('refuses the plain method', async () => {
      const params = await errorFromRedirect({ code_challenge_method: 'plain' });
      assert.equal(params.get('error'), 'invalid_request');
    });

    it('refuses a code redeemed with the wrong verifier', async () => {
      const { callbackUrl, state } = await authorize(config, { redirectUri: REDIRECT, email: user.email });
      await assert.rejects(
        oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: state }),
        isOAuthError('invalid_grant'),
      );
    });
  });

  describe('flows that are switched off', () => {
    it('refuses the implicit flow', async () => {
      const res = await get(authUrl({ response_type: 'token' }));
      const location = res.headers.get('location');
      const error = location ? new URL(location).searchParams.get('error') ?? new URLSearchParams(new URL(location).hash.slice(1)).get('error') : null;
      assert.ok(res.status === 400 || error === 'unsupported_response_type', `implicit refused (${res.status} ${location})`);
      assert.ok(!location?.includes('access_token'));
    });

    it('refuses the password grant', async () => {
      await assert.rejects(oidc.genericGrantRequest(config, 'password', { username: user.email, password: 'x' }), (err: unknown) =>
        err instanceof oidc.ResponseBodyError && ['unsupported_grant_type', 'unauthorized_client'].includes(err.error),
      );
    });
  });

  describe('sessions', () => {
    it('prompt=none without a session answers login_required', async () => {
      const res = await get(authUrl({ prompt: 'none' }));
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'login_required');
      assert.equal(location.searchParams.get('iss'), server.issuer);
    });

    it('honours max_age: auth_time in the ID token, and max_age=0 asks for the password again', async () => {
      const { tokens, agent } = await login(config, { redirectUri: REDIRECT, email: user.email, extra: { max_age: '3600' } });
      assert.equal(typeof tokens.claims()!.auth_time, 'number');
      const again = await agent.open(authUrl({ max_age: '0' }), REDIRECT);
      assert.match(again.url, /\/interaction\//);
      assert.match(again.html, /name="password"/);
    });
  });

  describe('logout', () => {
    it('asks a signed-in person for confirmation on a bare GET', async () => {
      const { agent } = await login(config, { redirectUri: REDIRECT, email: user.email });
      const page = await agent.open(`${server.issuer}/session/end`);
      assert.equal(page.status, 200);
      assert.match(page.html, /Sign out\?/);
      assert.match(page.html, /name="xsrf"/);
    });

    it('refuses an unregistered post_logout_redirect_uri', async () => {
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });
      const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example.test/' });
      const res = await get(url.toString());
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
    });

    it('refuses a post_logout_redirect_uri without an id_token_hint, and a forged hint', async () => {
      const bare = new URL(`${server.issuer}/session/end`);
      bare.searchParams.set('post_logout_redirect_uri', 'https://app.example.test/bye');
      bare.searchParams.set('client_id', client.client_id);
      const withoutHint = await get(bare.toString());
      assert.equal(withoutHint.headers.get('location'), null);
      bare.searchParams.set('id_token_hint', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
      const forged = await get(bare.toString());
      assert.equal(forged.status, 400);
      assert.equal(forged.headers.get('location'), null);
    });
  });

  describe('responses', () => {
    it('token and userinfo responses carry Cache-Control: no-store', async () => {
      const seen: Record<string, string | null> = {};
      const recording = await discover(server.issuer, client);
      recording[oidc.customFetch] = async (url, options) => {
        const res = await fetch(url, options as RequestInit);
        seen[new URL(url).pathname] = res.headers.get('cache-control');
        return res;
      };
      const { tokens } = await login(recording, { redirectUri: REDIRECT, email: user.email });
      await oidc.fetchUserInfo(recording, tokens.access_token, user.id);
      assert.equal(seen['/token'], 'no-store');
      assert.equal(seen['/me'], 'no-store');
    });

    it('every HTML page forbids framing, referrers and third-party resources', async () => {
      const agent = new UserAgent();
      const loginPage = await agent.open(authUrl({}));
      const errorPage = await get(authUrl({ client_id: 'nope' }));
      for (const headers of [loginPage.headers, errorPage.headers]) {
        assert.match(headers.get('content-security-policy')!, /frame-ancestors 'none'/);
        assert.match(headers.get('content-security-policy')!, /default-src 'none'/);
        assert.equal(headers.get('x-frame-options'), 'DENY');
        assert.equal(headers.get('referrer-policy'), 'no-referrer');
      }
      assert.doesNotMatch(loginPage.html, /<script|https?:\/\/(?!127\.0\.0\.1)/);
    });

    it('ignores spoofed X-Forwarded-* headers from an untrusted peer', async () => {
      const res = await fetch(`${server.issuer}/.well-known/openid-configuration`, {
        headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '6.6.6.6' },
      });
      const meta = (await res.json()) as Record<string, string>;
      assert.equal(meta.issuer, server.issuer);
      assert.ok(meta.token_endpoint!.startsWith(server.issuer));
      assert.ok(meta.authorization_endpoint!.startsWith(server.issuer));
    });
  });

  describe('bad input', () => {
    const tokenRequest = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.issuer}/token`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

    it('a token request without grant_type gets 400 invalid_request', async () => {
      const res = await tokenRequest('code=x', { authorization: basic(client.client_id, client.client_secret!) });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
    });

    it('unknown clients and wrong secrets get 401 invalid_client', async () => {
      for (const auth of [basic('ghost', 'x'), basic(client.client_id, 'wrong-secret')]) {
        const res = await tokenRequest('grant_type=client_credentials', { authorization: auth });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
      }
    });

    it('an oversize token request body is refused, and the server keeps serving', async () => {
      const res = await tokenRequest(`grant_type=authorization_code&code=${'a'.repeat(2 * 1024 * 1024)}`);
      assert.ok([400, 413].includes(res.status), `status ${res.status}`);
      assert.equal((await fetch(`${server.issuer}/healthz`)).status, 200);
    });
  });

  describe('hosted login page', () => {
    const startLogin = async () => {
      const agent = new UserAgent();
      const page = await agent.open(authUrl({}));
      const uid = /\/interaction\/([^/"]+)\/login/.exec(page.html)![1]!;
      return { agent, page, uid };
    };

    it('sets HttpOnly, SameSite=Lax cookies', async () => {
      const res = await get(authUrl({}));
      const cookies = res.headers.getSetCookie();
      assert.ok(cookies.length > 0);
      for (const c of cookies) {
        assert.match(c, /httponly/i);
        assert.match(c, /samesite=lax/i);
      }
    });

    it('refuses a login post without the CSRF token, or from another origin', async () => {
      const { agent, page, uid } = await startLogin();
      const post = (body: Record<string, string>, origin: string) =>
        agent.request(`${server.issuer}/interaction/${uid}/login`, {
          method: 'POST',
          body: new URLSearchParams(body),
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        });
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
      assert.equal((await post({ email: user.email, password: 'x' }, server.issuer)).status, 403);
      assert.equal((await post({ email: user.email, password: 'x', csrf: 'forged' }, server.issuer)).status, 403);
      assert.equal((await post({ email: user.email, password: 'x', csrf }, 'https://evil.example')).status, 403);
    });

    it("refuses another browser's interaction uid", async () => {
      const { uid } = await startLogin();
      const stranger = new UserAgent();
      const res = await stranger.open(`${server.issuer}/interaction/${uid}`);
      assert.equal(res.status, 400);
    });

    it('answers a wrong password and an unknown email identically', async () => {
      const attempt = async (email: string) => {
        const { agent, page } = await startLogin();
        const res = await agent.submit(page, '/login', { email, password: 'definitely wrong pw' });
        return { status: res.status, text: res.html.replace(/interaction[/=][A-Za-z0-9_-]+/g, 'interaction').replace(/name="csrf" value="[^"]+"/g, '').replace(/value="[^"]*@[^"]*"/, '') };
      };
      const known = await attempt(user.email);
      const unknown = await attempt('nobody@example.com');
      assert.equal(known.status, 401);
      assert.deepEqual(unknown, known);
    });

    it('refuses an oversize form with 413 before reading it', async () => {
      const { agent, uid } = await startLogin();
      const res = await agent.request(`${server.issuer}/interaction/${uid}/login`, {
        method: 'POST',
        body: `password=${'a'.repeat(1024 * 1024)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.status, 413);
    });
  });
});
