import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { login } from '../helpers/relying-party.js';

const REDIRECT = 'https://cli.example.test/callback';
const json = { 'content-type': 'application/json' };

for (const backend of backends) {
  describe(`/api/me on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);
    const me = () => new URL(`${fx.server.issuer}/api/me`);
    /** A resource request through openid-client; a 401/403 challenge comes back as its response. */
    const send = async (token: string, method: string, url: URL, body: string | undefined, headers: Record<string, string>) => {
      try {
        return await oidc.fetchProtectedResource(fx.config, token, url, method, body, new Headers(headers));
      } catch (err) {
        if (err instanceof oidc.WWWAuthenticateChallengeError) return err.response;
        throw err;
      }
    };
    const call = (token: string, method: string, url = me(), body?: unknown) =>
      send(token, method, url, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : json);

    it('reads the profile with any access token of the person, and only from the Authorization header', async () => {
      const user = await fx.server.createUser();
      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, scope: 'openid email' });
      const res = await call(tokens.access_token, 'GET');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.id, user.id);
      assert.equal(body.email, user.email);
      assert.equal(body.email_verified, false);

      const anonymous = await fetch(me());
      assert.equal(anonymous.status, 401);
      // RFC 6750 §3.1: no credential at all, so a challenge without an error code.
      assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
      assert.deepEqual(Object.keys((await anonymous.json()) as object), ['error', 'error_description']);
      assert.equal((await fetch(`${me()}?access_token=${tokens.access_token}`)).status, 401);
    });

    it('changes the profile only with a token granted the account scope', async () => {
      const user = await fx.server.createUser();
      const plain = await login(fx.config, { redirectUri: REDIRECT, email: user.email, scope: 'openid' });
      const denied = await call(plain.tokens.access_token, 'PATCH', me(), { name: 'Mallory' });
      assert.equal(denied.status, 403);
      assert.equal(((await denied.json()) as { error: string }).error, 'insufficient_scope');

      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, scope: 'openid account' });
      const changed = await call(tokens.access_token, 'PATCH', me(), { name: '  Grace Hopper ', theme: 'light' });
      assert.equal(changed.status, 200);
      assert.deepEqual(((await changed.json()) as Record<string, unknown>).name, 'Grace Hopper');

      const themeOnly = await call(tokens.access_token, 'PATCH', me(), { theme: 'dark' });
      assert.deepEqual(((await themeOnly.json()) as Record<string, unknown>).theme, 'dark');
      assert.equal((await fx.server.store.users.findById(user.id))!.name, 'Grace Hopper', 'fields not sent are kept');
      const unknownField = await call(tokens.access_token, 'PATCH', me(), { email: 'takeover@example.com' });
      assert.equal(unknownField.status, 400);
      assert.match(((await unknownField.json()) as { error_description: string }).error_description, /^body: Unrecognized key: "email"/);
      const bad = await call(tokens.access_token, 'PATCH', me(), { theme: 'neon' });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error_description: string }).error_description, /^theme:/);
      const notJson = await send(tokens.access_token, 'PATCH', me(), '{nope', json);
      assert.equal(notJson.status, 400);
      const wrongType = await send(tokens.access_token, 'PATCH', me(), 'name=x', { 'content-type': 'text/plain' });
      assert.equal(wrongType.status, 415);
      const huge = await send(tokens.access_token, 'PATCH', me(), JSON.stringify({ name: 'x'.repeat(64 * 1024) }), json);
      assert.equal(huge.status, 413);
    });

    it('changes the password with the current one, then every token of the account is dead', async () => {
      const user = await fx.server.createUser();
      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, scope: 'openid account offline_access' });
      const url = new URL(`${me()}/password`);
      const wrong = await call(tokens.access_token, 'PUT', url, { current_password: 'not it at all', new_password: 'a different long passphrase' });
      assert.equal(wrong.status, 403);
      const weak = await call(tokens.access_token, 'PUT', url, { current_password: TEST_PASSWORD, new_password: 'password1234' });
      assert.equal(weak.status, 400);
      const done = await call(tokens.access_token, 'PUT', url, { current_password: TEST_PASSWORD, new_password: 'a different long passphrase' });
      assert.equal(done.status, 204);
      assert.equal((await call(tokens.access_token, 'GET')).status, 401);
      await assert.rejects(oidc.refreshTokenGrant(fx.config, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      await login(fx.config, { redirectUri: REDIRECT, email: user.email, password: 'a different long passphrase' });
    });
  });
}
