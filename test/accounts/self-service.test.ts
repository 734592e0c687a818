import assert from 'node:assert/strict';
import { request } from 'node:http';
import * as oidc from 'openid-client';
import { hashActionToken } from '../../src/accounts/action-tokens.js';
import { backends } from '../helpers/backends.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { login } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const NEW_PASSWORD = 'a brand new passphrase for gatehouse';

/** A page with what legitimately differs between two answers (CSRF tokens, the typed email) blanked out. */
const comparable = (page: Page, email: string) => ({
  status: page.status,
  html: page.html.replace(/name="csrf" value="[^"]+"/g, 'name="csrf"').replaceAll(email, 'EMAIL'),
});

for (const backend of backends) {
  describe(`self-service accounts on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT, { MAIL_FROM: 'Gatehouse <login@example.test>' });

    const registerAs = async (email: string, password = TEST_PASSWORD, agent = new UserAgent()) => {
      const form = await agent.open(`${fx.server.issuer}/account/register`);
      return agent.submit(form, '/account/register', { email, password, name: 'Grace' });
    };
    const askReset = async (email: string, agent = new UserAgent()) => {
      const form = await agent.open(`${fx.server.issuer}/account/forgot-password`);
      return agent.submit(form, '/account/forgot-password', { email });
    };

    it('registers, mails a single-use verification link, and tools see email_verified flip', async () => {
      const email = `new-${backend.name}@example.com`;
      const answer = await registerAs(email);
      assert.equal(answer.status, 200);
      assert.match(answer.html, /Check your email/);

      const mail = await fx.smtp.waitForMail((m) => m.to.includes(email));
      const link = mail.link()!;
      assert.ok(link.startsWith(`${fx.server.issuer}/account/verify-email?token=`), link);

      // Unverified accounts can sign in; tools are told the address is unverified.
      const before = await login(fx.config, { redirectUri: REDIRECT, email });
      assert.equal(before.tokens.claims()!.email_verified, false);

      const agent = new UserAgent();
      const confirmPage = await agent.open(link);
      assert.equal(confirmPage.status, 200, 'GET only shows the page');
      assert.equal((await fx.server.store.users.findByEmail(email))!.emailVerified, false, 'a prefetching mail scanner verifies nothing');
      const done = await agent.submit(confirmPage, '/account/verify-email');
      assert.match(done.html, /Email confirmed/);

      const after = await login(fx.config, { redirectUri: REDIRECT, email });
      assert.equal(after.tokens.claims()!.email_verified, true);

      const reused = await new UserAgent().open(link);
      assert.equal(reused.status, 400);
      assert.match(reused.html, /expired or has already been used/);
    });

    it('answers a sign-up for a taken address exactly as for a new one, and creates nothing', async () => {
      const taken = await fx.server.createUser();
      const fresh = `fresh-${backend.name}@example.com`;
      const forTaken = await registerAs(taken.email, 'another fine long passphrase');
      const forFresh = await registerAs(fresh, 'another fine long passphrase');
      assert.deepEqual(comparable(forTaken, taken.email), comparable(forFresh, fresh));
      assert.equal((await fx.server.store.users.findByEmail(taken.email))!.passwordHash, taken.passwordHash, 'the existing account is untouched');
    });

    it('refuses a common password with a message tied to the field', async () => {
      const page = await registerAs(`weak-${backend.name}@example.com`, 'password1234');
      assert.equal(page.status, 400);
      assert.match(page.html, /id="password-error">This password is too common/);
      assert.match(page.html, /aria-describedby="password-hint password-error"/);
      assert.equal(await fx.server.store.users.findByEmail(`weak-${backend.name}@example.com`), undefined);
    });

    it('answers a reset request for known and unknown addresses identically, mailing only the known one', async () => {
      const known = await fx.server.createUser();
      const unknown = `nobody-${backend.name}@example.com`;
      const forKnown = await askReset(known.email);
      const forUnknown = await askReset(unknown);
      assert.deepEqual(comparable(forKnown, known.email), comparable(forUnknown, unknown));
      await fx.smtp.waitForMail((m) => m.to.includes(known.email) && /Reset/.test(m.subject));
      assert.equal(fx.smtp.messages.filter((m) => m.to.includes(unknown)).length, 0);
    });

    it('resets the password: a weak choice keeps the link, then sessions and refresh tokens are revoked', async () => {
      const user = await fx.server.createUser();
      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email });

      await askReset(user.email);
      const first = (await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /Reset/.test(m.subject))).link()!;
      await askReset(user.email);
      const second = (await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /Reset/.test(m.subject) && m.link() !== first)).link()!;
      assert.equal((await new UserAgent().open(first)).status, 400, 'a newer request voids the older link');

      const agent = new UserAgent();
      const form = await agent.open(second);
      assert.match(form.html, /Choose a new password/);
      const weak = await agent.submit(form, '/account/reset-password', { password: 'short' });
      assert.equal(weak.status, 400);
      assert.match(weak.html, /Use at least 12 characters/);

      const done = await agent.submit(weak, '/account/reset-password', { password: NEW_PASSWORD });
      assert.match(done.html, /Password changed/);
      await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /password was changed/.test(m.subject));

      await assert.rejects(oidc.refreshTokenGrant(fx.config, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      assert.equal((await oidc.tokenIntrospection(fx.config, tokens.access_token)).active, false);
      await assert.rejects(login(fx.config, { redirectUri: REDIRECT, email: user.email }), /did not reach the redirect URI/);
      await login(fx.config, { redirectUri: REDIRECT, email: user.email, password: NEW_PASSWORD });

      assert.equal((await new UserAgent().open(second)).status, 400, 'the link is single-use');
      assert.equal((await fx.server.store.users.findById(user.id))!.emailVerified, true, 'the reset proved the address');
    });

    it('refuses an expired link with a clear page', async () => {
      const user = await fx.server.createUser();
      await fx.server.store.actionTokens.issue({
        tokenHash: hashActionToken('expired-token'),
        purpose: 'reset-password',
        userId: user.id,
        data: {},
        createdAt: Date.now() - 7200_000,
        expiresAt: Date.now() - 3600_000,
      });
      const page = await new UserAgent().open(`${fx.server.issuer}/account/reset-password?token=expired-token`);
      assert.equal(page.status, 400);
      assert.match(page.html, /expired or has already been used/);
    });

    it('builds mailed links from the issuer, never from the Host header', async () => {
      const user = await fx.server.createUser();
      const agent = new UserAgent();
      const form = await agent.open(`${fx.server.issuer}/account/forgot-password`);
      const csrf = /name="csrf" value="([^"]+)"/.exec(form.html)![1]!;
      const cookie = [...agent.cookies].map(([k, v]) => `${k.split('|')[1]}=${v}`).join('; ');
      const body = new URLSearchParams({ csrf, email: user.email }).toString();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${fx.server.issuer}/account/forgot-password`, {
          method: 'POST',
          headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length },
        }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.once('error', reject);
        req.end(body);
      });
      assert.equal(status, 200);
      const mail = await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /Reset/.test(m.subject));
      assert.ok(mail.link()!.startsWith(`${fx.server.issuer}/account/reset-password?token=`), mail.link()!);
    });
  });
}
