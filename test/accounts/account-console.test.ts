import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { login } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const isInvalidGrant = (err: oidc.ResponseBodyError) => err.error === 'invalid_grant';

for (const backend of backends) {
  describe(`account pages on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);

    /** Opens /account in `agent`, signing in through the hosted login (no consent page). */
    async function signIn(user: UserRecord, agent = new UserAgent(), password = TEST_PASSWORD): Promise<{ agent: UserAgent; page: Page }> {
      const loginPage = await agent.open(`${fx.server.issuer}/account`);
      assert.match(loginPage.html, /Sign in/);
      const page = await agent.submit(loginPage, '/login', { email: user.email, password });
      assert.equal(page.url, `${fx.server.issuer}/account`);
      return { agent, page };
    }

    it('signs in through the hosted login straight to the profile, and edits name and theme', async () => {
      const user = await fx.server.createUser();
      const { agent, page } = await signIn(user);
      assert.match(page.html, /<h1>Your account<\/h1>/);
      assert.match(page.html, /Please confirm your email address/);

      const empty = await agent.submit(page, '/account/profile', { name: '   ', theme: 'dark' });
      assert.equal(empty.status, 400);
      assert.match(empty.html, /id="name-error">Enter a name of 1 to 100 characters/);

      const saved = await agent.submit(page, '/account/profile', { name: '  Ada Lovelace  ', theme: 'dark' });
      assert.match(saved.html, /Saved\./);
      assert.match(saved.html, /data-theme="dark"/);
      const stored = (await fx.server.store.users.findById(user.id))!;
      assert.equal(stored.name, 'Ada Lovelace');
      assert.equal(stored.theme, 'dark');
    });

    it('sends the confirmation link from the reminder', async () => {
      const user = await fx.server.createUser();
      const { agent, page } = await signIn(user);
      await agent.submit(page, '/account/verify-email/send');
      const mail = await fx.smtp.waitForMail((m) => m.to.includes(user.email));
      assert.match(mail.link()!, /\/account\/verify-email\?token=/);
    });

    it('refuses a form post without a session', async () => {
      const { page } = await signIn(await fx.server.createUser());
      const stranger = new UserAgent();
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
      const res = await stranger.request(`${fx.server.issuer}/account/profile`, {
        method: 'POST',
        body: new URLSearchParams({ csrf, name: 'x', theme: 'light' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.status, 401);
      assert.match(await res.text(), /Your session has ended/);
    });

    it('makes an API key shown only once, lists it by prefix, and revokes it', async () => {
      const user = await fx.server.createUser();
      const { agent } = await signIn(user);
      const page = await agent.open(`${fx.server.issuer}/account/keys`);
      assert.match(page.html, /<h1>API keys<\/h1>/);
      const created = await agent.submit(page, '/account/keys', { name: 'deploy script', expires_in_days: '30', read_only: 'on' });
      assert.equal(created.status, 201);
      const key = /id="new-key">(ghk_[0-9A-Za-z]+)</.exec(created.html)![1]!;
      const me = await fetch(`${fx.server.issuer}/api/me`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(me.status, 200);

      const listed = await agent.open(`${fx.server.issuer}/account/keys`);
      assert.ok(!listed.html.includes(key), 'never shown again');
      assert.match(listed.html, new RegExp(`${key.slice(0, 12)}…`));
      assert.match(listed.html, /read-only/);
      const revoked = await agent.submit(listed, '/account/keys/');
      assert.match(revoked.html, /revoked \d{4}-/);
      assert.equal((await fetch(`${fx.server.issuer}/api/me`, { headers: { authorization: `Bearer ${key}` } })).status, 401);
    });

    it('lists sessions and signs out another one, revoking what it granted', async () => {
      const user = await fx.server.createUser();
      const laptop = await signIn(user);
      const phone = await signIn(user);
      const phoneTool = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent: phone.agent });

      const list = await laptop.agent.open(`${fx.server.issuer}/account/sessions`);
      assert.equal((list.html.match(/<li>/g) ?? []).length, 2);
      assert.match(list.html, /This browser/);
      assert.match(list.html, /Used for: [^<]*Test App/);

      // The first sign-out form on the page is the other session's own (the current one has none).
      await laptop.agent.submit(list, '/sign-out');
      const after = await laptop.agent.open(`${fx.server.issuer}/account/sessions`);
      assert.equal((after.html.match(/<li>/g) ?? []).length, 1);
      const phoneAgain = await phone.agent.open(`${fx.server.issuer}/account`);
      assert.match(phoneAgain.html, /Sign in/, 'the phone is signed out');
      await assert.rejects(oidc.refreshTokenGrant(fx.config, phoneTool.tokens.refresh_token!), isInvalidGrant);
    });

    it('changes the password only with the current one; every other session and refresh token ends', async () => {
      const user = await fx.server.createUser();
      const laptop = await signIn(user);
      const phone = await signIn(user);
      const laptopTool = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent: laptop.agent });

      const form = await laptop.agent.open(`${fx.server.issuer}/account/password`);
      const wrong = await laptop.agent.submit(form, '/account/password', { current: 'not my password', password: 'a new and long passphrase' });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /id="current-error">That is not your current password/);
      const weak = await laptop.agent.submit(form, '/account/password', { current: TEST_PASSWORD, password: 'password1234' });
      assert.equal(weak.status, 400);
      assert.match(weak.html, /too common/);

      const done = await laptop.agent.submit(form, '/account/password', { current: TEST_PASSWORD, password: 'a new and long passphrase' });
      assert.match(done.html, /Password changed/);
      assert.match((await laptop.agent.open(`${fx.server.issuer}/account`)).html, /Your account/, 'this browser stays signed in');
      assert.match((await phone.agent.open(`${fx.server.issuer}/account`)).html, /Sign in/, 'other sessions end');
      await assert.rejects(oidc.refreshTokenGrant(fx.config, laptopTool.tokens.refresh_token!), isInvalidGrant);
      await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /password was changed/.test(m.subject));
    });

    it('deletes the account after re-authentication, leaving nothing behind', async () => {
      const user = await fx.server.createUser();
      const { agent } = await signIn(user);
      const tool = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent });
      await fx.server.store.actionTokens.issue({ tokenHash: `pending-${user.id}`, purpose: 'reset-password', userId: user.id, data: {}, createdAt: Date.now(), expiresAt: Date.now() + 60_000 });

      const form = await agent.open(`${fx.server.issuer}/account/delete`);
      const wrong = await agent.submit(form, '/account/delete', { password: 'nope nope nope' });
      assert.equal(wrong.status, 400);
      assert.ok(await fx.server.store.users.findById(user.id));

      const done = await agent.submit(form, '/account/delete', { password: TEST_PASSWORD });
      assert.match(done.html, /Account deleted/);
      assert.equal(await fx.server.store.users.findById(user.id), undefined);
      for (const model of ['Session', 'Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode']) {
        assert.deepEqual(await fx.server.store.oidc.listByAccount(model, user.id), [], `no ${model} left`);
      }
      assert.equal(await fx.server.store.actionTokens.find(`pending-${user.id}`, 'reset-password'), undefined);
      await assert.rejects(oidc.refreshTokenGrant(fx.config, tool.tokens.refresh_token!), isInvalidGrant);
      assert.match((await agent.open(`${fx.server.issuer}/account`)).html, /Sign in/);
    });
  });
}
