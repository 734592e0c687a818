import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Authenticator } from '../helpers/authenticator.js';
import { backends } from '../helpers/backends.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { discover, login, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`tools that require two-factor sign-in on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);

    async function start(config: oidc.Configuration, agent: UserAgent, extra: Record<string, string> = {}) {
      const { url, verifier } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT, state: 's', ...extra });
      return { verifier, page: await agent.open(url.toString(), REDIRECT) };
    }
    const finish = async (config: oidc.Configuration, agent: UserAgent, page: Awaited<ReturnType<UserAgent['open']>>, verifier: string) => {
      const callback = page.html.includes('/confirm"') ? await agent.submit(page, '/confirm', {}, REDIRECT) : page;
      return oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    };

    it('leads a person without a second factor through enrolment, then signs in with mfa', async () => {
      const user = await fx.server.createUser();
      const strict = await discover(fx.server.issuer, await fx.server.createClient({ client_name: 'Payroll', redirect_uris: [REDIRECT], require_mfa: true }));
      const agent = new UserAgent();
      const { verifier, page } = await start(strict, agent);
      const enrolPage = await agent.submit(page, '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
      assert.match(enrolPage.url, /\/second-factor\/enrol$/);
      assert.match(enrolPage.html, /<strong>Payroll<\/strong> requires a second factor/);
      const app = new Authenticator(/id="totp-secret">([A-Z2-7]+)</.exec(enrolPage.html)![1]!);

      const wrong = await agent.submit(enrolPage, '/second-factor/enrol', { code: app.code() === '000000' ? '111111' : '000000' }, REDIRECT);
      assert.match(wrong.html, /That code is not valid/);
      const codes = await agent.submit(wrong, '/second-factor/enrol', { code: app.code() }, REDIRECT);
      assert.equal((codes.html.match(/<li><code>/g) ?? []).length, 10);
      const next = await agent.submit(codes, '/second-factor/continue', {}, REDIRECT);
      const tokens = await finish(strict, agent, next, verifier);
      assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(tokens.claims()!.acr, 'urn:gatehouse:mfa');
      assert.equal((await fx.server.store.secondFactors.getTotp(user.id))?.confirmed, true);
    });

    it('acr_values makes a password-only session sign in again and enrol (SSO cannot skip it)', async () => {
      const user = await fx.server.createUser();
      const agent = new UserAgent();
      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent, scope: 'openid' });
      assert.deepEqual(tokens.claims()!.amr, ['pwd']);

      const silent = await start(fx.config, agent);
      assert.ok(new URL(silent.page.url).searchParams.has('code'), 'the ordinary request is answered from the session');
      const stronger = await start(fx.config, agent, { acr_values: 'urn:gatehouse:mfa' });
      assert.match(stronger.page.html, /name="password"/, 'asked to sign in again');
      const next = await agent.submit(stronger.page, '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
      assert.match(next.url, /\/second-factor\/enrol$/);
    });
  });
}
