import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RegisteredClient } from '../../src/access/clients.js';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { discover, login, silentAuthorization } from '../helpers/relying-party.js';

const REDIRECT = 'https://app.example.test/callback';
const POST_LOGOUT = 'https://app.example.test/bye';

for (const backend of backends) {
  describe(`OIDC end to end on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let user: UserRecord;
    let client: RegisteredClient;
    let config: oidc.Configuration;

    before(async () => {
      server = await startTestServer(await backend.freshDatabaseUrl());
      user = await server.createUser();
      client = await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: [POST_LOGOUT] });
      config = await discover(server.issuer, client);
    });
    after(() => server?.stop());

    it('discovery advertises the endpoints, S256 only and RFC 9207 iss', () => {
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, server.issuer);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(meta.response_types_supported, ['code']);
      assert.equal(meta.authorization_response_iss_parameter_supported, true);
      for (const endpoint of ['token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
        assert.ok(meta[endpoint], `${endpoint} advertised`);
      }
    });

    it('runs code + PKCE through the login form, then userinfo, refresh, introspection, revocation and logout', async () => {
      const { tokens, callbackUrl, agent } = await login(config, { redirectUri: REDIRECT, email: user.email });
      assert.equal(callbackUrl.searchParams.get('iss'), server.issuer, 'iss in the authorization response');

      const claims = tokens.claims()!;
      assert.equal(claims.sub, user.id);
      assert.equal(claims.email, user.email);
      const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { alg: string };
      assert.equal(header.alg, 'ES256');

      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
      assert.equal(info.email, user.email);
      assert.equal(info.email_verified, false);

      assert.ok(tokens.refresh_token);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh token rotated');
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      // Replaying the rotated token revoked the whole grant, the newest tokens included.
      await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);

      const second = await login(config, { redirectUri: REDIRECT, email: user.email, agent });
      const introspected = await oidc.tokenIntrospection(config, second.tokens.access_token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.sub, user.id);
      assert.equal(introspected.client_id, client.client_id);

      await oidc.tokenRevocation(config, second.tokens.access_token);
      assert.equal((await oidc.tokenIntrospection(config, second.tokens.access_token)).active, false);

      const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: second.tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT, state: 'bye' });
      const confirm = await agent.open(logoutUrl.toString(), POST_LOGOUT);
      assert.match(confirm.html, /Sign out\?/);
      const done = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, POST_LOGOUT);
      assert.equal(done.url, `${POST_LOGOUT}?state=bye`);
      // Signed out: a silent login now needs the person again.
      assert.equal(await silentAuthorization(config, agent, REDIRECT), 'login_required');
    });

    it('refuses a replayed authorization code and revokes the tokens issued from it', async () => {
      const { tokens, callbackUrl, verifier } = await login(config, { redirectUri: REDIRECT, email: user.email });
      await assert.rejects(
        oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: callbackUrl.searchParams.get('state')! }),
        (err: oidc.ResponseBodyError) => err.error === 'invalid_grant',
      );
      assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    });

    it('issues client_credentials JWT access tokens verifiable offline against /jwks', async () => {
      const machine = await server.createClient({ grant_types: ['client_credentials'], redirect_uris: [] });
      const machineConfig = await discover(server.issuer, machine);
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));

      const byDefault = await oidc.clientCredentialsGrant(machineConfig);
      const { payload, protectedHeader } = await jwtVerify(byDefault.access_token, jwks, { issuer: server.issuer, audience: server.config.defaultResource });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.client_id, machine.client_id);

      const forApi = await oidc.clientCredentialsGrant(machineConfig, { resource: 'https://api.example.test' });
      await jwtVerify(forApi.access_token, jwks, { issuer: server.issuer, audience: 'https://api.example.test' });

      await assert.rejects(
        oidc.clientCredentialsGrant(machineConfig, { resource: 'https://evil.example.test' }),
        (err: oidc.ResponseBodyError) => err.error === 'invalid_target',
      );
    });

    it('keeps users, clients, keys and refresh tokens across a restart', async () => {
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });
      const jwksBefore = await (await fetch(`${server.issuer}/jwks`)).json();
      const { databaseUrl, port, issuer } = server.config;
      await server.stop();
      server = await startTestServer(databaseUrl, { PORT: String(port), ISSUER: issuer });
      config = await discover(server.issuer, client);
      assert.deepEqual(await (await fetch(`${server.issuer}/jwks`)).json(), jwksBefore);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.sub, user.id);
      await login(config, { redirectUri: REDIRECT, email: user.email });
    });
  });
}
