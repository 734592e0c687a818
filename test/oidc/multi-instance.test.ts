import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { registerClient, type RegisteredClient } from '../../src/access/clients.js';
import { createUser } from '../../src/accounts/users.js';
import { Secrets } from '../../src/security/secrets.js';
import { openStore } from '../../src/store/open-store.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_SECRET, testEnv } from '../helpers/gatehouse.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discoverThrough, login, silentAuthorization } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

/** openid-client pointed at one instance's endpoints, for a deployment whose issuer is another's URL. */
const configFor = (instance: ServerProcess, issuer: string, client: RegisteredClient) => discoverThrough(instance.url, issuer, client);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, attempts = 60): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`gave up waiting for ${what}`);
}

for (const backend of backends) {
  describe(`two instances on one ${backend.name} database`, function () {
    this.timeout(120_000);
    let a: ServerProcess;
    let b: ServerProcess;
    let env: Record<string, string>;
    let client: RegisteredClient;
    let machine: RegisteredClient;
    let email: string;

    before(async () => {
      env = await testEnv(await backend.freshDatabaseUrl(), { SIGNING_KEY_ACTIVATION_DELAY: '2', SIGNING_KEY_REFRESH_INTERVAL: '1' });
      const store = await openStore(env.DATABASE_URL!);
      const secrets = new Secrets(TEST_SECRET);
      email = (await createUser(store, { email: 'multi@example.com', password: 'correct horse battery staple' })).email;
      client = await registerClient(store, secrets, { client_name: 'Multi', redirect_uris: [REDIRECT] });
      machine = await registerClient(store, secrets, { client_name: 'Machine', grant_types: ['client_credentials'] });
      await store.close();
      // One public issuer, as behind a load balancer; each instance listens on its own port.
      a = await spawnServer(env);
      b = await spawnServer({ ...env, PORT: String(await freePort()) });
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it('a token issued by one instance is active on the other, and refreshes there', async () => {
      const onA = await configFor(a, env.ISSUER!, client);
      const onB = await configFor(b, env.ISSUER!, client);
      const { tokens } = await login(onA, { redirectUri: REDIRECT, email });
      const introspected = await oidc.tokenIntrospection(onB, tokens.access_token);
      assert.equal(introspected.active, true);
      const refreshed = await oidc.refreshTokenGrant(onB, tokens.refresh_token!);
      assert.equal((await oidc.tokenIntrospection(onA, refreshed.access_token)).active, true);
      await assert.rejects(oidc.refreshTokenGrant(onA, tokens.refresh_token!));
    });

    it('login on A, consent on B, token on A, refresh on B, logout on A, then prompt=none on B needs a login', async () => {
      const onA = await configFor(a, env.ISSUER!, client);
      const onB = await configFor(b, env.ISSUER!, client);
      const on = (instance: ServerProcess, page: Page): Page => ({ ...page, url: page.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, instance.url) });
      const agent = new UserAgent(env.ISSUER);
      const verifier = oidc.randomPKCECodeVerifier();
      const start = oidc.buildAuthorizationUrl(onA, {
        redirect_uri: REDIRECT,
        scope: 'openid offline_access',
        prompt: 'consent',
        state: 's1',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const loginPage = await agent.open(start.toString(), REDIRECT);
      const consentPage = await agent.submit(on(a, loginPage), '/login', { email, password: 'correct horse battery staple' }, REDIRECT);
      const callback = await agent.submit(on(b, consentPage), '/confirm', {}, REDIRECT);
      const tokens = await oidc.authorizationCodeGrant(onA, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: 's1' });
      const refreshed = await oidc.refreshTokenGrant(onB, tokens.refresh_token!);

      const confirm = await agent.open(oidc.buildEndSessionUrl(onA, { id_token_hint: refreshed.id_token! }).toString());
      const signedOut = await agent.submit(on(a, confirm), '/session/end/confirm', { logout: 'yes' });
      assert.match(signedOut.html, /Signed out/);

      assert.equal(await silentAuthorization(onB, agent, REDIRECT), 'login_required');
    });

    it('after `signing-keys rotate`, tokens signed before and after verify against JWKS on both', async () => {
      const machineOnA = await configFor(a, env.ISSUER!, machine);
      const before = (await oidc.clientCredentialsGrant(machineOnA)).access_token;
      const oldKid = decodeProtectedHeader(before).kid;

      const rotated = await runCli(['signing-keys', 'rotate'], env);
      assert.equal(rotated.code, 0, rotated.stderr);
      const newKids = (JSON.parse(rotated.stdout) as { kid: string }[]).map((k) => k.kid);

      // Both instances pick the new key up from the store, first publishing it, then signing with it.
      const after = await waitFor('the new key to sign', async () => {
        const token = (await oidc.clientCredentialsGrant(await configFor(b, env.ISSUER!, machine))).access_token;
        return newKids.includes(decodeProtectedHeader(token).kid!) ? token : undefined;
      });
      assert.notEqual(decodeProtectedHeader(after).kid, oldKid);

      for (const instance of [a, b]) {
        const jwks = createLocalJWKSet((await (await fetch(`${instance.url}/jwks`)).json()) as JSONWebKeySet);
        for (const token of [before, after]) await jwtVerify(token, jwks, { issuer: env.ISSUER! });
      }

      const listed = await runCli(['signing-keys', 'list'], env);
      const states = (JSON.parse(listed.stdout) as { kid: string; state: string }[]).map((k) => k.state).sort();
      assert.deepEqual(states, ['active', 'active', 'retiring', 'retiring']);
    });
  });
}
