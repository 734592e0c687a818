import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { hotp, totpStep } from '../../src/mfa/totp.js';
import type { UserRecord } from '../../src/store/port.js';
import { Authenticator } from '../helpers/authenticator.js';
import { backends } from '../helpers/backends.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { mailingFixture, type MailingFixture } from '../helpers/mailing-fixture.js';
import { pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';


/**
 * Enrols through the account pages. `step` is the time step the confirming code used;
 * tests derive later codes from it, not from the clock, so a step boundary passing
 * mid-test cannot change which code they mean.
 */
async function enrol(fx: MailingFixture, user: UserRecord): Promise<{ agent: UserAgent; secret: Buffer; step: number; recoveryCodes: string[]; page: Page }> {
  const agent = new UserAgent();
  const loginPage = await agent.open(`${fx.server.issuer}/account`);
  await agent.submit(loginPage, '/login', { email: user.email, password: TEST_PASSWORD });
  const start = await agent.open(`${fx.server.issuer}/account/2fa`);
  const qrPage = await agent.submit(start, '/account/2fa/start');
  assert.match(qrPage.html, /<svg[^>]*>/, 'an inline QR code');
  const uri = /id="otpauth-uri" class="wrap">([^<]+)</.exec(qrPage.html)![1]!.replace(/&amp;/g, '&');
  const { secret } = new Authenticator(/id="totp-secret">([A-Z2-7]+)</.exec(qrPage.html)![1]!);
  assert.equal(new URL(uri).searchParams.get('secret'), /id="totp-secret">([A-Z2-7]+)</.exec(qrPage.html)![1]);
  assert.ok(secret.length >= 20, 'a 160-bit secret');

  const step = totpStep(Date.now());
  const wrong = await agent.submit(qrPage, '/account/2fa/confirm', { code: hotp(secret, step) === '000000' ? '111111' : '000000' });
  assert.equal(wrong.status, 400);
  const page = await agent.submit(qrPage, '/account/2fa/confirm', { code: hotp(secret, step) });
  const recoveryCodes = [...page.html.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(recoveryCodes.length, 10);
  assert.match(page.html, /Two-factor authentication is <strong>on<\/strong>/);
  return { agent, secret, step, recoveryCodes, page };
}

/** Password sign-in at the tool up to the second-factor page, then one code. */
async function signInWithCode(fx: MailingFixture, user: UserRecord, code: string) {
  const agent = new UserAgent();
  const { url, verifier } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT, state: 's' });
  const loginPage = await agent.open(url.toString(), REDIRECT);
  const challenge = await agent.submit(loginPage, '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
  assert.match(challenge.html, /Two-factor authentication/, 'the password alone does not sign in');
  const after = await agent.submit(challenge, '/second-factor', { code }, REDIRECT);
  if (after.status === 401) return { ok: false as const, page: after };
  const callback = after.html.includes('/confirm"') ? await agent.submit(after, '/confirm', {}, REDIRECT) : after;
  const tokens = await oidc.authorizationCodeGrant(fx.config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 's' });
  return { ok: true as const, tokens };
}

for (const backend of backends) {
  describe(`two-factor authentication on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);

    it('enrols with a QR code, then sign-in needs a code; a used or older code is refused', async () => {
      const user = await fx.server.createUser();
      const { secret, step } = await enrol(fx, user);
      const stored = (await fx.server.store.secondFactors.getTotp(user.id))!;
      assert.ok(!stored.secretCiphertext.includes(secret.toString('base64url')), 'the secret is encrypted at rest');

      // The enrolment used the current step: replaying it is refused.
      const replay = await signInWithCode(fx, user, hotp(secret, step));
      assert.equal(replay.ok, false);
      assert.match(replay.page.html, /That code is not valid/);

      const next = await signInWithCode(fx, user, hotp(secret, step + 1));
      assert.ok(next.ok);
      assert.deepEqual(next.tokens.claims()!.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(next.tokens.claims()!.acr, 'urn:gatehouse:mfa');
      assert.equal((await signInWithCode(fx, user, hotp(secret, step + 1))).ok, false, 'the same code twice');
      assert.equal((await signInWithCode(fx, user, hotp(secret, step))).ok, false, 'an older step after a newer one');
    });

    it('a recovery code works once', async () => {
      const user = await fx.server.createUser();
      const { recoveryCodes } = await enrol(fx, user);
      const first = await signInWithCode(fx, user, recoveryCodes[3]!.toUpperCase());
      assert.ok(first.ok);
      assert.equal((await signInWithCode(fx, user, recoveryCodes[3]!)).ok, false);
      assert.equal(await fx.server.store.secondFactors.countRecoveryCodes(user.id), 9);
    });

    it('turning 2FA on ends other sessions; turning it off needs a code or the password', async () => {
      const user = await fx.server.createUser();
      const other = new UserAgent();
      const otherLogin = await other.open(`${fx.server.issuer}/account`);
      await other.submit(otherLogin, '/login', { email: user.email, password: TEST_PASSWORD });
      const { agent, page } = await enrol(fx, user);
      assert.match((await other.open(`${fx.server.issuer}/account`)).html, /Sign in/, 'the other session ended');

      const refused = await agent.submit(page, '/account/2fa/disable', { code: '', password: 'not the password' });
      assert.equal(refused.status, 400);
      const off = await agent.submit(page, '/account/2fa/disable', { password: TEST_PASSWORD });
      assert.match(off.html, /Set up two-factor authentication/);
      assert.equal(await fx.server.store.secondFactors.getTotp(user.id), undefined);

      const agentAfter = new UserAgent();
      const verifierless = await agentAfter.open(`${fx.server.issuer}/account`);
      const signedIn = await agentAfter.submit(verifierless, '/login', { email: user.email, password: TEST_PASSWORD });
      assert.match(signedIn.html, /Your account/, 'no second step any more');
    });

    it('a password reset does not bypass the second factor', async () => {
      const user = await fx.server.createUser();
      await enrol(fx, user);
      const agent = new UserAgent();
      await agent.submit(await agent.open(`${fx.server.issuer}/account/forgot-password`), '/account/forgot-password', { email: user.email });
      const link = (await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /Reset/.test(m.subject))).link()!;
      await agent.submit(await agent.open(link), '/account/reset-password', { password: 'a reset long passphrase' });
      const signIn = await agent.open(`${fx.server.issuer}/account`);
      const next = await agent.submit(signIn, '/login', { email: user.email, password: 'a reset long passphrase' });
      assert.match(next.html, /Two-factor authentication<\/h1>/);
      assert.match(next.url, /\/second-factor$/);
    });

    it('code guessing counts toward the sign-in lock', async () => {
      const user = await fx.server.createUser();
      const { secret, step } = await enrol(fx, user);
      const wrong = [step, step + 1, step + 2].some((s) => hotp(secret, s) === '123456') ? '654321' : '123456';
      for (let i = 0; i < 5; i++) assert.equal((await signInWithCode(fx, user, wrong)).ok, false);
      // The next attempt is refused at the password step, right password or not.
      const agent = new UserAgent();
      const { url } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT });
      const locked = await agent.submit(await agent.open(url.toString(), REDIRECT), '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
      assert.equal(locked.status, 429);
      assert.match(locked.html, /Too many failed sign-ins/);
    });
  });
}
