import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { discover, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { startUpstreamGitHub, type GitHubAccount, type UpstreamGitHub } from '../helpers/upstream-github.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`sign-in with GitHub on ${backend.name}`, function () {
    this.timeout(60_000);
    let github: UpstreamGitHub;
    let server: TestServer;
    let config: oidc.Configuration;

    before(async () => {
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      github = await startUpstreamGitHub(`${issuer}/upstream/github/callback`);
      server = await startTestServer(await backend.freshDatabaseUrl(), {
        PORT: String(port),
        ISSUER: issuer,
        GITHUB_CLIENT_ID: github.clientId,
        GITHUB_CLIENT_SECRET: github.clientSecret,
        GITHUB_URL: github.url,
        GITHUB_API_URL: github.url,
      });
      config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
    });
    after(async () => {
      await server?.stop();
      await github?.stop();
    });

    async function viaGitHub(account: GitHubAccount): Promise<{ agent: UserAgent; page: Page; verifier: string }> {
      github.signedIn = account;
      const agent = new UserAgent();
      const { url, verifier } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email profile', state: 's' });
      const loginPage = await agent.open(url.toString(), REDIRECT);
      assert.match(loginPage.html, /Continue with GitHub/);
      const button = /href="(\/interaction\/[^"]+\/upstream\/github)"/.exec(loginPage.html)![1]!;
      return { agent, page: await agent.open(`${server.issuer}${button}`, REDIRECT), verifier };
    }
    async function tokensFrom(agent: UserAgent, page: Page, verifier: string) {
      const callback = page.html.includes('/confirm"') ? await agent.submit(page, '/confirm', {}, REDIRECT) : page;
      return oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    }
    const account = (id: number, email: string, verified: boolean): GitHubAccount => ({
      id,
      login: `octo${id}`,
      name: null,
      avatar_url: `https://avatars.example/${id}.png`,
      emails: [{ email: `secondary${id}@example.com`, verified: true, primary: false }, { email, verified, primary: true }],
    });

    it('creates an account from the primary verified email, keyed by the numeric id, and signs in again', async () => {
      const octo = account(101, 'octo101@example.com', true);
      const first = await viaGitHub(octo);
      const claims = (await tokensFrom(first.agent, first.page, first.verifier)).claims()!;
      assert.equal(claims.email, 'octo101@example.com');
      assert.equal(claims.email_verified, true);
      assert.equal(claims.name, 'octo101', 'the login stands in for a missing name');
      assert.equal(claims.picture, 'https://avatars.example/101.png');
      octo.login = 'renamed';
      const again = await viaGitHub(octo);
      assert.equal((await tokensFrom(again.agent, again.page, again.verifier)).claims()!.sub, claims.sub, 'a renamed login is the same person');
      assert.ok(await server.store.identities.find('github', '101'));
    });

    it('links a verified primary email to the existing account, never an unverified one', async () => {
      const local = await server.createUser('dev@example.com');
      const refused = await viaGitHub(account(202, 'dev@example.com', false));
      assert.equal(refused.page.status, 409);
      assert.equal(await server.store.identities.find('github', '202'), undefined);

      const linked = await viaGitHub(account(203, 'dev@example.com', true));
      assert.match(linked.page.html, /Your GitHub account is now linked/);
      const next = await linked.agent.submit(linked.page, '/upstream-complete', {}, REDIRECT);
      assert.equal((await tokensFrom(linked.agent, next, linked.verifier)).claims()!.sub, local.id);
    });
  });
}
