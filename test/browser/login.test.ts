import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { launchBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { discover } from '../helpers/relying-party.js';

const ARTIFACTS = 'test-artifacts/screenshots';

describe('hosted login in headless Chromium', function () {
  this.timeout(90_000);
  let server: TestServer;
  let rp: Server;
  let rpUrl: string;
  let email: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    email = (await server.createUser('browser@example.com')).email;
    const port = await freePort();
    rpUrl = `http://127.0.0.1:${port}`;
    const client = await server.createClient({ client_name: 'Team Wiki', redirect_uris: [`${rpUrl}/callback`] });
    const config = await discover(server.issuer, client);
    const pending = new Map<string, string>();

    // A real relying party: starts the login with PKCE, finishes it with openid-client.
    rp = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url!, rpUrl);
        if (url.pathname === '/login') {
          const verifier = oidc.randomPKCECodeVerifier();
          const state = oidc.randomState();
          pending.set(state, verifier);
          const target = oidc.buildAuthorizationUrl(config, {
            redirect_uri: `${rpUrl}/callback`,
            scope: 'openid email profile',
            code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
            state,
          });
          res.writeHead(302, { location: target.toString() }).end();
        } else if (url.pathname === '/callback') {
          const state = url.searchParams.get('state')!;
          const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: pending.get(state)!, expectedState: state });
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1 id="who">Signed in as ${tokens.claims()!.email as string}</h1>`);
        } else res.writeHead(404).end();
      })().catch((err: Error) => res.writeHead(500).end(err.message));
    });
    await new Promise<void>((resolve) => rp.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    rp?.close();
    await server?.stop();
  });

  it('signs in with email and password, consents, and lands back at the tool signed in', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${rpUrl}/login`);
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
});
