import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import sharp from 'sharp';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { discover, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { startUpstreamOidc, type UpstreamOidc } from '../helpers/upstream-oidc.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`sign-in with an upstream OpenID provider on ${backend.name}`, function () {
    this.timeout(60_000);
    let upstream: UpstreamOidc;
    let server: TestServer;
    let config: oidc.Configuration;

    before(async () => {
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      upstream = await startUpstreamOidc(`${issuer}/upstream/google/callback`);
      server = await startTestServer(await backend.freshDatabaseUrl(), {
        PORT: String(port),
        ISSUER: issuer,
        GOOGLE_CLIENT_ID: upstream.clientId,
        GOOGLE_CLIENT_SECRET: upstream.clientSecret,
        GOOGLE_ISSUER: upstream.issuer,
      });
      config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
    });
    after(async () => {
      await server?.stop();
      await upstream?.stop();
    });

    /** From the tool, through "Continue with Google" and the upstream's own pages, back to Gatehouse. */
    async function viaGoogle(subject: string): Promise<{ agent: UserAgent; page: Page; verifier: string }> {
      const agent = new UserAgent();
      const { url, verifier } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email profile', state: 's' });
      const loginPage = await agent.open(url.toString(), REDIRECT);
      const button = /href="(\/interaction\/[^"]+\/upstream\/google)"/.exec(loginPage.html);
      assert.ok(button, 'a "Continue with Google" button');
      const upstreamLogin = await agent.open(`${server.issuer}${button[1]}`, REDIRECT);
      assert.ok(upstreamLogin.url.startsWith(upstream.issuer), upstreamLogin.url);
      // oidc-provider's development pages: one form per step, posted back to the interaction.
      let back = await agent.submit(upstreamLogin, '/interaction/', { login: subject, password: 'anything' }, REDIRECT);
      if (back.url.startsWith(upstream.issuer) && back.html.includes('value="consent"')) back = await agent.submit(back, '/interaction/', {}, REDIRECT);
      return { agent, page: back, verifier };
    }

    async function tokensFrom(agent: UserAgent, page: Page, verifier: string) {
      const callback = page.html.includes('/confirm"') ? await agent.submit(page, '/confirm', {}, REDIRECT) : page;
      return oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    }

    it('creates an account for a new upstream identity, then signs the same person in again', async () => {
      upstream.accounts.set('g-new', { email: 'New.Person@example.com', email_verified: true, name: 'New Person', picture: 'https://upstream.example/new.png' });
      const first = await viaGoogle('g-new');
      const tokens = await tokensFrom(first.agent, first.page, first.verifier);
      const claims = tokens.claims()!;
      assert.equal(claims.email, 'new.person@example.com');
      assert.equal(claims.email_verified, true);
      assert.equal(claims.name, 'New Person');
      assert.equal(claims.picture, 'https://upstream.example/new.png', 'the upstream picture stands in');
      const me = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${server.issuer}/api/me`), 'GET');
      assert.equal(((await me.json()) as { picture: string }).picture, claims.picture, '/api/me agrees with the ID token');
      assert.deepEqual(claims.amr, ['fed']);

      const again = await viaGoogle('g-new');
      assert.equal((await tokensFrom(again.agent, again.page, again.verifier)).claims()!.sub, claims.sub);
      assert.equal((await server.store.identities.listForUser(claims.sub)).length, 1);
    });

    it('links a verified upstream email to the existing account, and says so', async () => {
      const local = await server.createUser('linkme@example.com');
      upstream.accounts.set('g-link', { email: 'linkme@example.com', email_verified: true, name: 'Upstream Name' });
      const { agent, page, verifier } = await viaGoogle('g-link');
      assert.match(page.html, /Account linked/);
      const next = await agent.submit(page, '/upstream-complete', {}, REDIRECT);
      assert.equal((await tokensFrom(agent, next, verifier)).claims()!.sub, local.id);
      assert.deepEqual((await server.store.identities.listForUser(local.id)).map((i) => i.subject), ['g-link']);
    });

    it('never links an unverified upstream email to an existing account', async () => {
      const local = await server.createUser('victim@example.com');
      upstream.accounts.set('g-attacker', { email: 'victim@example.com', email_verified: false });
      const { page } = await viaGoogle('g-attacker');
      assert.equal(page.status, 409);
      assert.match(page.html, /does not vouch for the address/);
      assert.deepEqual(await server.store.identities.listForUser(local.id), []);
      assert.equal(await server.store.identities.find('google', 'g-attacker'), undefined);
    });

    it('shows linked providers in /account and unlinks one, but never the last way to sign in', async () => {
      upstream.accounts.set('g-only', { email: 'only-google@example.com', email_verified: true });
      const { agent } = await viaGoogle('g-only');
      const account = await agent.open(`${server.issuer}/account`);
      assert.match(account.html, /Linked sign-in providers/);
      const refused = await agent.submit(account, '/account/identities/unlink');
      assert.equal(refused.status, 400);
      assert.match(refused.html, /only way to sign in/);

      const local = await server.createUser('both@example.com');
      upstream.accounts.set('g-both', { email: 'both@example.com', email_verified: true });
      const linked = await viaGoogle('g-both');
      const next = await linked.agent.submit(linked.page, '/upstream-complete', {}, REDIRECT);
      await tokensFrom(linked.agent, next, linked.verifier);
      const page = await linked.agent.open(`${server.issuer}/account`);
      const done = await linked.agent.submit(page, '/account/identities/unlink');
      assert.match(done.html, /Saved\./);
      assert.deepEqual(await server.store.identities.listForUser(local.id), []);
    });

    it('an uploaded picture replaces the upstream one; removing it falls back to the upstream picture', async () => {
      upstream.accounts.set('g-pic', { email: 'pic@example.com', email_verified: true, picture: 'https://upstream.example/pic.png' });
      const first = await viaGoogle('g-pic');
      const sub = (await tokensFrom(first.agent, first.page, first.verifier)).claims()!.sub;
      const account = await first.agent.open(`${server.issuer}/account`);
      const form = new FormData();
      form.set('csrf', /name="csrf" value="([^"]+)"/.exec(account.html)![1]!);
      form.set('avatar', new Blob([new Uint8Array(await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } }).png().toBuffer())]), 'me.png');
      assert.equal((await first.agent.request(`${server.issuer}/account/avatar`, { method: 'POST', body: form })).status, 303);
      const pictureNow = async () => {
        const round = await viaGoogle('g-pic');
        return (await tokensFrom(round.agent, round.page, round.verifier)).claims()!.picture as string;
      };
      assert.match(await pictureNow(), new RegExp(`/account/avatar/${sub}\\?v=`));
      await first.agent.submit(await first.agent.open(`${server.issuer}/account`), '/account/avatar/remove');
      assert.equal(await pictureNow(), 'https://upstream.example/pic.png');
    });

    it('refuses a callback whose state it did not issue', async () => {
      const res = await fetch(`${server.issuer}/upstream/google/callback?code=forged&state=forged`);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /expired/);
    });

    it('creates an account with email_verified false for a new unverified address', async () => {
      upstream.accounts.set('g-unverified', { email: 'fresh-unverified@example.com', email_verified: false });
      const { agent, page, verifier } = await viaGoogle('g-unverified');
      assert.equal((await tokensFrom(agent, page, verifier)).claims()!.email_verified, false);
    });
  });
}

describe('an upstream provider that is down', function () {
  this.timeout(60_000);
  let server: TestServer;
  let config: oidc.Configuration;

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), {
      GOOGLE_CLIENT_ID: 'gatehouse',
      GOOGLE_CLIENT_SECRET: 'unused-secret',
      GOOGLE_ISSUER: `http://127.0.0.1:${await freePort()}`,
    });
    config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
  });
  after(() => server?.stop());

  it('answers its button with a clear 502, while password sign-in keeps working', async () => {
    const user = await server.createUser();
    const agent = new UserAgent();
    const { url } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT });
    const loginPage = await agent.open(url.toString(), REDIRECT);
    const button = /href="(\/interaction\/[^"]+\/upstream\/google)"/.exec(loginPage.html)![1]!;
    const down = await agent.open(`${server.issuer}${button}`, REDIRECT);
    assert.equal(down.status, 502);
    assert.match(down.html, /cannot be reached right now/);
    const consent = await agent.submit(loginPage, '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
    assert.match(consent.html, /Allow access\?/);
  });
});
