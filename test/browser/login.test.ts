import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { Authenticator } from '../helpers/authenticator.js';
import { backends } from '../helpers/backends.js';
import type { BrowserContext, Page as PlaywrightPage } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { startRelyingParty, type RelyingParty } from '../helpers/browser-rp.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

const ARTIFACTS = 'test-artifacts/screenshots';


/** Opens the account pages in a new tab and signs in through the hosted login. */
async function signInToAccount(context: BrowserContext, email: string): Promise<PlaywrightPage> {
  const page = await context.newPage();
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

let server: TestServer;

describe('hosted pages in headless Chromium', function () {
  this.timeout(90_000);
  let smtp: TestSmtpServer;
  let rp: RelyingParty;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    smtp = await startSmtpServer();
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), { SMTP_URL: smtp.url });
    rp = await startRelyingParty(server);
  });
  after(async () => {
    await rp?.close();
    await server?.stop();
    await smtp?.stop();
  });

  it('signs in with email and password, consents, and lands back at the tool signed in', async () => {
    const email = (await server.createUser('browser@example.com')).email;
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${rp.url}/login`);
      assert.equal(await page.title(), 'Sign in · Gatehouse');
      await page.screenshot({ path: `${ARTIFACTS}/login.png`, fullPage: true });

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('wrong password here');
      await page.getByRole('button', { name: 'Sign in' }).click();
      assert.equal(await page.getByRole('alert').textContent(), 'Invalid email or password.');
      assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
      await page.screenshot({ path: `${ARTIFACTS}/login-error.png`, fullPage: true });

      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      assert.match((await page.locator('main').textContent())!, /Team Wiki/);
      await page.screenshot({ path: `${ARTIFACTS}/consent.png`, fullPage: true });

      await page.getByRole('button', { name: 'Allow' }).click();
      await page.locator('#who').waitFor();
      assert.equal(await page.locator('#who').textContent(), `Signed in as ${email}`);
    } finally {
      await browser.close();
    }
  });

  it('creates an account from the sign-in page, confirms the emailed link, and signs in verified', async () => {
    const email = 'newcomer@example.com';
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${rp.url}/login`);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByLabel('Name').fill('Newcomer');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('password1234');
      await page.getByRole('button', { name: 'Create account' }).click();
      assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
      assert.match((await page.locator('#password-error').textContent())!, /too common/);
      await page.screenshot({ path: `${ARTIFACTS}/register-error.png`, fullPage: true });

      await page.getByLabel('Password').fill('seven brisk otters juggle');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/check-email.png`, fullPage: true });

      const link = (await smtp.waitForMail((m) => m.to.includes(email))).link()!;
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm my email' }).click();
      await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();

      await page.goto(`${rp.url}/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('seven brisk otters juggle');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.locator('#who').waitFor();
      assert.equal(await page.locator('#who').textContent(), `Signed in as ${email}`);
      assert.equal(await page.locator('#verified').textContent(), 'true');
    } finally {
      await browser.close();
    }
  });

  it('enrols an authenticator from the QR page and shows the recovery codes once', async () => {
    const user = await server.createUser('twofactor@example.com');
    const browser = await launchBrowser();
    try {
      const page = await signInToAccount(browser.context, user.email);
      await page.getByRole('link', { name: 'Two-factor' }).click();
      await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
      await page.locator('.qr svg').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/two-factor-qr.png`, fullPage: true });

      const app = new Authenticator((await page.locator('#totp-secret').textContent())!);
      await page.getByLabel('Code from the app').fill(app.code());
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
      assert.equal(await page.locator('.codes li').count(), 10);
      await page.screenshot({ path: `${ARTIFACTS}/two-factor-recovery-codes.png`, fullPage: true });
      await page.reload();
      assert.equal(await page.locator('.codes li').count(), 0, 'shown only once');
    } finally {
      await browser.close();
    }
  });

  it('manages the account: name and dark theme, sessions, then deletes it', async () => {
    const user = await server.createUser('console@example.com');
    const browser = await launchBrowser();
    try {
      const page = await signInToAccount(browser.context, user.email);
      await page.getByRole('heading', { name: 'Your account' }).waitFor();

      await page.getByLabel('Display name').fill('Console Person');
      await page.getByLabel('Dark').check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
      // A string, so this Node project needs no DOM typings for code that runs in the page.
      const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
      assert.equal(background, 'rgb(17, 20, 24)', 'the dark palette is applied');
      const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#d97706' } }).png().toBuffer();
      await page.getByLabel(/Upload a picture/).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: photo });
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await page.getByText('Saved.').waitFor();
      await page.getByRole('img', { name: 'Your picture' }).waitFor();
      const width = await page.evaluate("(async () => { const img = document.querySelector('.avatar img'); await img.decode(); return img.naturalWidth; })()");
      assert.equal(width, 256, 'the served picture is the 256×256 re-encoding');
      await page.screenshot({ path: `${ARTIFACTS}/account-dark.png`, fullPage: true });

      await page.getByRole('link', { name: 'Sessions' }).click();
      await page.getByText('This browser').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/account-sessions.png`, fullPage: true });

      await page.getByRole('link', { name: 'Delete' }).click();
      await page.getByLabel('Your password, to confirm').fill(TEST_PASSWORD);
      await page.screenshot({ path: `${ARTIFACTS}/account-delete.png`, fullPage: true });
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.getByRole('heading', { name: 'Account deleted' }).waitFor();
      assert.equal(await server.store.users.findById(user.id), undefined);
    } finally {
      await browser.close();
    }
  });
});
