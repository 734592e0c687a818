import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`magic-link sign-in on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);

    /** Starts a code + PKCE request in a fresh browser and asks for a link for `email` from the sign-in page. */
    async function askForLink(email: string) {
      const agent = new UserAgent();
      const { url, verifier } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT, scope: 'openid email', state: 'magic' });
      const loginPage = await agent.open(url.toString(), REDIRECT);
      const uid = /\/interaction\/([^/"]+)\/magic-link/.exec(loginPage.html)![1]!;
      const requestPage = await agent.open(`${fx.server.issuer}/interaction/${uid}/magic-link`);
      const answer = await agent.submit(requestPage, '/magic-link', { email });
      return { agent, verifier, answer };
    }

    const blank = (page: Page, email: string) => page.html.replace(/name="csrf" value="[^"]+"/g, '').replace(/interaction\/[A-Za-z0-9_-]+/g, '').replaceAll(email, 'EMAIL');

    it('signs in by the emailed link, once, in the browser that asked', async () => {
      const user = await fx.server.createUser();
      const { agent, verifier, answer } = await askForLink(user.email);
      assert.match(answer.html, /Check your email/);
      const mail = await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /sign-in link/.test(m.subject));
      const link = mail.link()!;
      assert.ok(link.startsWith(fx.server.issuer), link);

      const confirm = await agent.open(link, REDIRECT);
      assert.match(confirm.html, /Continue signing in/);
      const consent = await agent.submit(confirm, '/magic', {}, REDIRECT);
      const callback = await agent.submit(consent, '/confirm', {}, REDIRECT);
      const tokens = await oidc.authorizationCodeGrant(fx.config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 'magic' });
      assert.equal(tokens.claims()!.sub, user.id);
      assert.deepEqual(tokens.claims()!.amr, ['otp']);

      const again = await agent.open(link, REDIRECT);
      assert.equal(again.status, 400, 'a used link is refused');
    });

    it('does nothing in another browser', async () => {
      const user = await fx.server.createUser();
      await askForLink(user.email);
      const link = (await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /sign-in link/.test(m.subject))).link()!;
      const elsewhere = await new UserAgent().open(link, REDIRECT);
      assert.equal(elsewhere.status, 400);
      assert.match(elsewhere.html, /opened in another browser/);
    });

    it('answers known and unknown addresses identically, mailing only the known one', async () => {
      const user = await fx.server.createUser();
      const unknown = `ghost-${backend.name}@example.com`;
      const known = await askForLink(user.email);
      const missing = await askForLink(unknown);
      assert.equal(known.answer.status, missing.answer.status);
      assert.equal(blank(known.answer, user.email), blank(missing.answer, unknown));
      await fx.smtp.waitForMail((m) => m.to.includes(user.email));
      assert.equal(fx.smtp.messages.filter((m) => m.to.includes(unknown)).length, 0);
    });
  });
}
