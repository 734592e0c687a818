import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi } from '../helpers/management.js';
import { login } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const WIKI_CALLBACK = 'https://wiki.example.test/callback';
const VAULT_CALLBACK = 'https://vault.example.test/callback';
const SCOPE = 'openid email permissions offline_access';

for (const backend of backends) {
  describe(`tools and per-tool permissions on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let adminKey: string;
    const register = async (tool: Record<string, unknown>) => {
      const res = await callApi(server, adminKey, 'POST', '/api/tools', tool);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return oidc.discovery(new URL(server.issuer), res.body.id, res.body.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
    };
    const grant = (userId: string, tool: string, level: string) => callApi(server, adminKey, 'PUT', `/api/users/${userId}/permissions/${tool}`, { level });

    before(async () => {
      server = await startTestServer(await backend.freshDatabaseUrl());
      ({ key: adminKey } = await adminCredential(server));
    });
    after(() => server?.stop());

    it('advertises the permissions scope and its claims in discovery', async () => {
      const meta = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
      assert.ok(meta.scopes_supported!.includes('permissions'));
      assert.ok(meta.claims_supported!.includes('role') && meta.claims_supported!.includes('permission'));
    });

    it('puts the person\'s permission for the tool in its tokens, and a change shows in the next refresh', async () => {
      const wiki = await register({ id: 'wiki', name: 'Wiki', type: 'web', home_url: 'https://wiki.example.test', redirect_uris: [WIKI_CALLBACK] });
      const user = await server.createUser();
      assert.equal((await grant(user.id, 'wiki', 'write')).status, 200);

      const { tokens } = await login(wiki, { redirectUri: WIKI_CALLBACK, email: user.email, scope: SCOPE });
      assert.deepEqual(pick(tokens.claims()!), { role: 'viewer', permission: 'write' });
      const userinfo = await oidc.fetchUserInfo(wiki, tokens.access_token, user.id);
      assert.deepEqual(pick(userinfo), { role: 'viewer', permission: 'write' });
      const introspected = await oidc.tokenIntrospection(wiki, tokens.access_token);
      assert.deepEqual(pick(introspected), { role: 'viewer', permission: 'write' }, 'the access token carries them too');

      assert.equal((await grant(user.id, 'wiki', 'read')).status, 200);
      const refreshed = await oidc.refreshTokenGrant(wiki, tokens.refresh_token!);
      assert.equal(refreshed.claims()!.permission, 'read');
      assert.equal(pick(await oidc.tokenIntrospection(wiki, refreshed.access_token)).permission, 'read');

      assert.equal((await callApi(server, adminKey, 'DELETE', `/api/users/${user.id}/permissions/wiki`)).status, 204);
      const again = await oidc.refreshTokenGrant(wiki, refreshed.refresh_token!);
      assert.equal(again.claims()!.permission, null, 'an unrestricted tool still lets them in, with no permission');
    });

    it('a restricted tool refuses a person without a permission, with a page and access_denied at its redirect URI', async () => {
      const vault = await register({ id: 'vault', name: 'Vault', redirect_uris: [VAULT_CALLBACK], restricted: true });
      const user = await server.createUser();
      const agent = new UserAgent();
      const form = await agent.open((await authorizationUrl(vault, VAULT_CALLBACK)).toString(), VAULT_CALLBACK);
      const refused = await agent.submit(form, '/login', { email: user.email, password: TEST_PASSWORD }, VAULT_CALLBACK);
      assert.equal(refused.status, 403);
      assert.match(refused.html, /no access to <strong>Vault<\/strong>/);
      const back = await agent.submit(refused, '/abort', {}, VAULT_CALLBACK);
      const answer = new URL(back.url);
      assert.equal(answer.origin + answer.pathname, VAULT_CALLBACK);
      assert.equal(answer.searchParams.get('error'), 'access_denied');
      assert.equal(answer.searchParams.get('iss'), server.issuer);

      // With a grant, the same person (same browser session) gets in.
      await grant(user.id, 'vault', 'read');
      const { tokens } = await login(vault, { redirectUri: VAULT_CALLBACK, email: user.email, scope: SCOPE, agent });
      assert.equal(tokens.claims()!.permission, 'read');

      // Losing it ends their refreshes there.
      await callApi(server, adminKey, 'DELETE', `/api/users/${user.id}/permissions/vault`);
      await assert.rejects(oidc.refreshTokenGrant(vault, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    });

    it('admins are admins of every tool, restricted ones included, without a grant', async () => {
      const vault = await register({ id: 'vault-2', name: 'Vault 2', redirect_uris: [VAULT_CALLBACK], restricted: true });
      const { admin } = await adminCredential(server);
      const { tokens } = await login(vault, { redirectUri: VAULT_CALLBACK, email: admin.email, scope: SCOPE });
      assert.deepEqual(pick(tokens.claims()!), { role: 'admin', permission: 'admin' });
    });

    it('leaves role and permission out without the permissions scope', async () => {
      const tool = await register({ id: 'plain', name: 'Plain', redirect_uris: [WIKI_CALLBACK] });
      const user = await server.createUser();
      const { tokens } = await login(tool, { redirectUri: WIKI_CALLBACK, email: user.email, scope: 'openid email' });
      assert.deepEqual(pick(tokens.claims()!), {});
    });
  });
}

function pick(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([k]) => k === 'role' || k === 'permission'));
}

async function authorizationUrl(config: oidc.Configuration, redirectUri: string): Promise<URL> {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
  });
}
