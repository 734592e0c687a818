import assert from 'node:assert/strict';
import type { Backend } from '../helpers/backends.js';
import { backends } from '../helpers/backends.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { mailingFixture, type MailingFixture } from '../helpers/mailing-fixture.js';
import { pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One attempt on the hosted sign-in page, in a fresh browser. */
async function attempt(fx: MailingFixture, email: string, password: string, headers: Record<string, string> = {}): Promise<Page> {
  const agent = new UserAgent(undefined, headers);
  const { url } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT });
  const page = await agent.open(url.toString(), REDIRECT);
  return agent.submit(page, '/login', { email, password }, REDIRECT);
}

const signedIn = (page: Page) => page.status !== 401 && page.status !== 429 && !/Sign in<\/h1>/.test(page.html);
const comparable = (page: Page) => ({ status: page.status, retry: page.headers.get('retry-after'), html: page.html.replace(/interaction[/=][A-Za-z0-9_-]+/g, '').replace(/name="csrf" value="[^"]+"/g, '').replace(/value="[^"]*@[^"]*"/g, '') });

function accountLocks(backend: Backend) {
  describe(`sign-in lock per account on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT, { LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_IP: '1000', LOGIN_LOCK_WINDOW: '2' });

    it('after 3 failures even the right password gets 429, exactly as an unknown address does', async () => {
      const user = await fx.server.createUser();
      for (let i = 0; i < 3; i++) assert.equal((await attempt(fx, user.email, 'wrong password here')).status, 401);
      const locked = await attempt(fx, user.email, TEST_PASSWORD);
      assert.equal(locked.status, 429);
      assert.equal(locked.headers.get('retry-after'), '2');
      assert.match(locked.html, /Too many failed sign-ins/);

      const ghost = `ghost-${backend.name}@example.com`;
      for (let i = 0; i < 3; i++) await attempt(fx, ghost, 'wrong password here');
      assert.deepEqual(comparable(await attempt(fx, ghost, 'wrong password here')), comparable(locked));
    });

    it('lifts the lock once the failures age out', async () => {
      const user = await fx.server.createUser();
      for (let i = 0; i < 3; i++) await attempt(fx, user.email, 'wrong password here');
      assert.equal((await attempt(fx, user.email, TEST_PASSWORD)).status, 429);
      await sleep(2200);
      assert.ok(signedIn(await attempt(fx, user.email, TEST_PASSWORD)));
    });

    it('a successful sign-in clears the count', async () => {
      const user = await fx.server.createUser();
      for (let i = 0; i < 2; i++) await attempt(fx, user.email, 'wrong password here');
      assert.ok(signedIn(await attempt(fx, user.email, TEST_PASSWORD)));
      for (let i = 0; i < 2; i++) await attempt(fx, user.email, 'wrong password here');
      assert.ok(signedIn(await attempt(fx, user.email, TEST_PASSWORD)));
    });

    it('a locked-out person can still reset the password, which lifts the lock', async () => {
      const user = await fx.server.createUser();
      for (let i = 0; i < 3; i++) await attempt(fx, user.email, 'wrong password here');
      const agent = new UserAgent();
      await agent.submit(await agent.open(`${fx.server.issuer}/account/forgot-password`), '/account/forgot-password', { email: user.email });
      const link = (await fx.smtp.waitForMail((m) => m.to.includes(user.email) && /Reset/.test(m.subject))).link()!;
      const done = await agent.submit(await agent.open(link), '/account/reset-password', { password: 'a fresh long passphrase' });
      assert.match(done.html, /Password changed/);
      assert.ok(signedIn(await attempt(fx, user.email, 'a fresh long passphrase')));
    });
  });
}

function ipLocks(backend: Backend) {
  describe(`sign-in lock per IP on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT, { LOGIN_MAX_FAILURES: '100', LOGIN_MAX_FAILURES_PER_IP: '4', LOGIN_LOCK_WINDOW: '60' });

    it('locks an address spraying many accounts, whatever X-Forwarded-For it claims', async () => {
      for (let i = 0; i < 4; i++) {
        assert.equal((await attempt(fx, `spray${i}@example.com`, 'wrong password here', { 'x-forwarded-for': `10.0.0.${i}` })).status, 401);
      }
      const fresh = await fx.server.createUser();
      const locked = await attempt(fx, fresh.email, TEST_PASSWORD, { 'x-forwarded-for': '203.0.113.9' });
      assert.equal(locked.status, 429);
    });
  });
}

for (const backend of backends) {
  accountLocks(backend);
  ipLocks(backend);
}
