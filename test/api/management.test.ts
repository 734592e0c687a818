import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi, keyFor } from '../helpers/management.js';
import { discover, login } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://tool.example.test/callback';
const STRONG_PASSWORD = 'a perfectly fine passphrase 42';

for (const backend of backends) {
  describe(`management API on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let key: string;
    let adminId: string;
    const api = (method: string, path: string, body?: unknown) => callApi(server, key, method, path, body);

    before(async () => {
      server = await startTestServer(await backend.freshDatabaseUrl());
      const admin = await adminCredential(server);
      key = admin.key;
      adminId = admin.admin.id;
    });
    after(() => server?.stop());

    it('creates users (email unique in any case), lists them filtered and paged, and gets one', async () => {
      const created = await api('POST', '/api/users', { email: 'Grace@Example.com', name: 'Grace', password: STRONG_PASSWORD, role: 'viewer' });
      assert.equal(created.status, 201);
      assert.equal(created.body.email, 'grace@example.com');
      assert.equal(created.headers.get('location'), `/api/users/${created.body.id}`);
      assert.equal('password' in created.body || 'password_hash' in created.body, false);
      const duplicate = await api('POST', '/api/users', { email: 'GRACE@example.com' });
      assert.equal(duplicate.status, 409);
      assert.equal(duplicate.body.error, 'conflict');
      const weak = await api('POST', '/api/users', { email: 'weak@example.com', password: 'password1234' });
      assert.equal(weak.status, 400);
      assert.match(weak.body.error_description, /^password: /);

      for (const email of ['list-a@paging.test', 'list-b@paging.test', 'list-c@paging.test']) await api('POST', '/api/users', { email });
      const first = await api('GET', '/api/users?email=PAGING.test&limit=2');
      assert.deepEqual(first.body.data.map((u: { email: string }) => u.email), ['list-a@paging.test', 'list-b@paging.test']);
      const second = await api('GET', `/api/users?email=paging.test&limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
      assert.deepEqual(second.body.data.map((u: { email: string }) => u.email), ['list-c@paging.test']);
      assert.equal(second.body.next_cursor, null);
      const admins = await api('GET', '/api/users?role=admin');
      assert.ok(admins.body.data.every((u: { role: string }) => u.role === 'admin'));

      await server.createClient({ client_id: 'users-tool', redirect_uris: [REDIRECT] });
      await api('PUT', `/api/users/${created.body.id}/permissions/users-tool`, { level: 'write' });
      const got = await api('GET', `/api/users/${created.body.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.permissions.map((p: { tool: string; level: string }) => [p.tool, p.level]), [['users-tool', 'write']]);
      const listed = await api('GET', `/api/users/${created.body.id}/permissions`);
      assert.deepEqual(listed.body.data.map((p: { user_id: string; tool: string }) => [p.user_id, p.tool]), [[created.body.id, 'users-tool']]);
    });

    it('changes a user\'s fields, role and password, and audits who did it from where', async () => {
      const user = await server.createUser();
      const changed = await api('PATCH', `/api/users/${user.id}`, { name: 'Renamed', email: 'renamed@example.com', role: 'admin' });
      assert.equal(changed.status, 200);
      assert.deepEqual([changed.body.name, changed.body.email, changed.body.email_verified, changed.body.role], ['Renamed', 'renamed@example.com', false, 'admin']);
      const taken = await api('PATCH', `/api/users/${user.id}`, { email: (await server.createUser()).email });
      assert.equal(taken.status, 409);

      const config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: 'renamed@example.com' });
      assert.equal((await api('PATCH', `/api/users/${user.id}`, { password: STRONG_PASSWORD })).status, 200);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), 'a new password ends the user\'s tokens');
      await login(config, { redirectUri: REDIRECT, email: 'renamed@example.com', password: STRONG_PASSWORD });

      const roleEvents = await api('GET', `/api/audit?action=user.role_changed&target_id=${user.id}`);
      assert.equal(roleEvents.body.data.length, 1);
      const [event] = roleEvents.body.data;
      assert.deepEqual(event.details, { from: 'viewer', to: 'admin' });
      assert.equal(event.actor.type, 'user');
      assert.equal(event.actor.id, adminId);
      assert.ok(event.actor.api_key_id);
      assert.equal(event.ip, '127.0.0.1');
    });

    it('disabling a user ends their sessions, tokens and keys, and refuses their sign-in; enabling lets them back', async () => {
      const user = await server.createUser();
      const userKey = await keyFor(server, user);
      const config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });

      const disabled = await api('POST', `/api/users/${user.id}/disable`);
      assert.equal(disabled.body.status, 'disabled');
      assert.equal((await callApi(server, userKey, 'GET', '/api/me')).status, 401);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!));
      const agent = new UserAgent();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const refused = await agent.submit(await agent.open(url.toString(), REDIRECT), '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
      assert.equal(refused.status, 403);
      assert.match(refused.html, /This account is disabled/);
      const failed = await api('GET', `/api/audit?action=user.disabled&target_id=${user.id}`);
      assert.equal(failed.body.data.length, 1);

      assert.equal((await api('POST', `/api/users/${user.id}/enable`)).body.status, 'active');
      assert.equal((await callApi(server, userKey, 'GET', '/api/me')).status, 200);
      await login(config, { redirectUri: REDIRECT, email: user.email });
    });

    it('deletes a user with everything they own', async () => {
      const user = await server.createUser();
      const userKey = await keyFor(server, user);
      await server.createClient({ client_id: 'delete-tool', redirect_uris: [REDIRECT] });
      await api('PUT', `/api/users/${user.id}/permissions/delete-tool`, { level: 'read' });
      assert.equal((await api('DELETE', `/api/users/${user.id}`)).status, 204);
      assert.equal((await api('GET', `/api/users/${user.id}`)).status, 404);
      assert.equal((await callApi(server, userKey, 'GET', '/api/me')).status, 401);
      assert.deepEqual(await server.store.apiKeys.listForUser(user.id), []);
      assert.deepEqual(await server.store.permissions.listForUser(user.id), []);
      assert.equal((await api('GET', `/api/audit?action=user.deleted&target_id=${user.id}`)).body.data.length, 1);
    });

    it('registers, changes, re-secrets and deletes tools; a secret is shown only when made', async () => {
      const created = await api('POST', '/api/tools', { id: 'build-bot', name: 'Build bot', type: 'machine' });
      assert.equal(created.status, 201);
      const secret: string = created.body.client_secret;
      assert.ok(secret.length >= 43);
      assert.equal((await api('POST', '/api/tools', { id: 'build-bot', name: 'Again' })).status, 409);
      const got = await api('GET', '/api/tools/build-bot');
      assert.equal(got.body.type, 'machine');
      assert.equal('client_secret' in got.body, false);
      assert.ok(!JSON.stringify((await api('GET', '/api/tools')).body).includes(secret));
      const grantWith = async (s: string) =>
        oidc.clientCredentialsGrant(await oidc.discovery(new URL(server.issuer), 'build-bot', s, undefined, { execute: [oidc.allowInsecureRequests] }));

      const renamed = await api('PATCH', '/api/tools/build-bot', { name: 'Build robot', home_url: 'https://ci.example.test' });
      assert.equal(renamed.body.name, 'Build robot');
      assert.equal('client_secret' in renamed.body, false, 'an edit keeps the secret');
      assert.ok((await grantWith(secret)).access_token);

      const rotated = await api('POST', '/api/tools/build-bot/secret');
      assert.notEqual(rotated.body.client_secret, secret);
      await assert.rejects(grantWith(secret), 'the old secret stops working at once');
      assert.ok((await grantWith(rotated.body.client_secret)).access_token);

      const user = await server.createUser();
      await api('PUT', `/api/users/${user.id}/permissions/build-bot`, { level: 'admin' });
      assert.equal((await api('GET', '/api/tools/build-bot/permissions')).body.data.length, 1);
      assert.equal((await api('DELETE', '/api/tools/build-bot')).status, 204);
      assert.deepEqual(await server.store.permissions.listForUser(user.id), [], 'its permissions go with it');
      await assert.rejects(grantWith(rotated.body.client_secret));
      const actions = (await api('GET', '/api/audit?target_id=build-bot')).body.data.map((e: { action: string }) => e.action);
      assert.deepEqual(actions, ['tool.deleted', 'tool.secret_rotated', 'tool.updated', 'tool.created']);
    });

    it('lets a machine tool authenticate with private_key_jwt instead of a secret', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'bot-key-1', alg: 'ES256', use: 'sig' };
      const created = await api('POST', '/api/tools', { id: 'signed-bot', name: 'Signed bot', type: 'machine', auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.auth_method, 'private_key_jwt');
      assert.equal('client_secret' in created.body, false);
      const bot = await oidc.discovery(new URL(server.issuer), 'signed-bot', {}, oidc.PrivateKeyJwt({ key: privateKey, kid: 'bot-key-1' }), {
        execute: [oidc.allowInsecureRequests],
      });
      assert.ok((await oidc.clientCredentialsGrant(bot)).access_token);
      const { privateKey: stranger } = await generateKeyPair('ES256');
      const impostor = await oidc.discovery(new URL(server.issuer), 'signed-bot', {}, oidc.PrivateKeyJwt({ key: stranger, kid: 'bot-key-1' }), {
        execute: [oidc.allowInsecureRequests],
      });
      await assert.rejects(oidc.clientCredentialsGrant(impostor), (err: oidc.ResponseBodyError) => err.error === 'invalid_client');
      const rotate = await api('POST', '/api/tools/signed-bot/secret');
      assert.equal(rotate.status, 409, 'a key-authenticated tool has no secret to rotate');
    });

    it('a change names only what changes: other settings of the tool stay', async () => {
      const created = await api('POST', '/api/tools', {
        id: 'kept-tool', name: 'Kept', redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://tool.example.test/bye'], restricted: true, require_mfa: true,
      });
      assert.equal(created.status, 201);
      const renamed = await api('PATCH', '/api/tools/kept-tool', { name: 'Kept and renamed' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const { updated_at: _u1, client_secret: _secret, ...before } = created.body;
      const { updated_at: _u2, ...after } = renamed.body;
      assert.deepEqual(after, { ...before, name: 'Kept and renamed' });
    });

    it('refuses tools that break the client rules, naming the field', async () => {
      const fragment = await api('POST', '/api/tools', { id: 'bad-1', name: 'Bad', redirect_uris: ['https://a.example/cb#x'] });
      assert.equal(fragment.status, 400);
      assert.match(fragment.body.error_description, /redirect_uris/);
      const keyless = await api('POST', '/api/tools', { id: 'bad-2', name: 'Bad', redirect_uris: [REDIRECT], auth_method: 'private_key_jwt' });
      assert.match(keyless.body.error_description, /jwks/);
      const slug = await api('POST', '/api/tools', { id: 'Not A Slug', name: 'Bad' });
      assert.match(slug.body.error_description, /^id: /);
      assert.equal((await api('GET', '/api/tools/gatehouse-account')).status, 404, 'Gatehouse\'s own account client is not a tool');
    });

    it('records sign-ins and failures in the audit log, filterable by time and paged by cursor', async () => {
      const user = await server.createUser();
      const config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
      const since = new Date().toISOString();
      await assert.rejects(login(config, { redirectUri: REDIRECT, email: user.email, password: `${TEST_PASSWORD}!` }));
      await login(config, { redirectUri: REDIRECT, email: user.email });
      const failed = await api('GET', `/api/audit?action=login.failed&since=${since}`);
      assert.equal(failed.body.data[0].details.email, user.email);
      assert.deepEqual(failed.body.data[0].actor, { type: 'anonymous', id: null });
      const succeeded = await api('GET', `/api/audit?action=login.succeeded&actor_id=${user.id}`);
      assert.equal(succeeded.body.data.length, 1);
      assert.deepEqual(succeeded.body.data[0].details.amr, ['pwd']);

      const page1 = await api('GET', '/api/audit?limit=2');
      const page2 = await api('GET', `/api/audit?limit=2&cursor=${page1.body.next_cursor}`);
      assert.equal(page1.body.data.length, 2);
      assert.ok(page2.body.data[0].id < page1.body.data[1].id, 'the next page continues with older events');
      assert.equal((await api('GET', `/api/audit?until=${since}&action=login.succeeded&actor_id=${user.id}`)).body.data.length, 0);
    });
  });
}

describe('management API: the last admin', function () {
  this.timeout(30_000);
  it('cannot be demoted, disabled or deleted', async () => {
    const server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    try {
      const { admin, key } = await adminCredential(server);
      for (const [method, path, body] of [
        ['PATCH', `/api/users/${admin.id}`, { role: 'viewer' }],
        ['POST', `/api/users/${admin.id}/disable`, undefined],
        ['DELETE', `/api/users/${admin.id}`, undefined],
      ] as const) {
        const res = await callApi(server, key, method, path, body);
        assert.equal(res.status, 409, `${method} ${path}`);
        assert.equal(res.body.error, 'last_admin');
      }
      const other = await callApi(server, key, 'POST', '/api/users', { email: 'second-admin@example.com', role: 'admin' });
      assert.equal((await callApi(server, key, 'PATCH', `/api/users/${admin.id}`, { role: 'viewer' })).status, 200, 'with another admin it can');
      assert.equal(other.status, 201);
    } finally {
      await server.stop();
    }
  });
});
