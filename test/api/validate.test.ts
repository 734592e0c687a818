import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi, keyFor } from '../helpers/management.js';
import { discover, login } from '../helpers/relying-party.js';

const REDIRECT = 'https://wiki.example.test/callback';
const API_RESOURCE = 'https://api.example.test';

for (const backend of backends) {
  describe(`POST /api/validate on ${backend.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    const validate = (credential: string, body?: unknown) => callApi(server, credential, 'POST', '/api/validate', body);

    before(async () => {
      server = await startTestServer(await backend.freshDatabaseUrl());
      await server.createClient({ client_id: 'wiki', redirect_uris: [REDIRECT] });
      await server.createClient({ client_id: 'ci-tool', redirect_uris: [REDIRECT] });
    });
    after(() => server?.stop());

    it('answers who an API key belongs to and their permission in the tool named', async () => {
      const user = await server.createUser();
      await server.store.permissions.set(user.id, 'wiki', 'write');
      const key = await keyFor(server, user);
      const ok = await validate(key, { tool: 'wiki' });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, {
        valid: true,
        user: { id: user.id, email: user.email, name: user.name, role: 'viewer' },
        tool: 'wiki',
        permission: 'write',
      });
      assert.deepEqual(
        [(await validate(key, { tool: 'ci-tool' })).body.permission, (await validate(key, { tool: 'ci-tool' })).body.error],
        [null, 'No access to this tool'],
      );
      assert.equal((await validate(key)).body.permission, null, 'an unnarrowed key names no tool by itself');
      assert.equal((await validate(key, { tool: 'no-such-tool' })).body.permission, null);
    });

    it('a narrowed key answers for its own tool only; a read-only key caps the permission at read', async () => {
      const user = await server.createUser();
      await server.store.permissions.set(user.id, 'wiki', 'admin');
      await server.store.permissions.set(user.id, 'ci-tool', 'admin');
      const narrowed = await keyFor(server, user, { tool: 'wiki' });
      assert.deepEqual([(await validate(narrowed)).body.tool, (await validate(narrowed)).body.permission], ['wiki', 'admin']);
      assert.equal((await validate(narrowed, { tool: 'ci-tool' })).body.permission, null);
      const readOnly = await keyFor(server, user, { read_only: true });
      assert.equal((await validate(readOnly, { tool: 'ci-tool' })).body.permission, 'read');
    });

    it('accepts the tool\'s own access tokens, opaque and JWT, and refuses another tool\'s token', async () => {
      const user = await server.createUser();
      await server.store.permissions.set(user.id, 'wiki', 'read');
      await server.store.permissions.set(user.id, 'ci-tool', 'write');
      const wiki = await discover(server.issuer, { client_id: 'wiki', client_secret: await secretOf(server, 'wiki') });
      const { tokens } = await login(wiki, { redirectUri: REDIRECT, email: user.email, scope: 'openid' });
      const opaque = await validate(tokens.access_token);
      assert.deepEqual([opaque.body.valid, opaque.body.tool, opaque.body.permission], [true, 'wiki', 'read']);
      const replayed = await validate(tokens.access_token, { tool: 'ci-tool' });
      assert.deepEqual([replayed.body.permission, replayed.body.error], [null, 'No access to this tool'], 'a wiki token is no good at ci');

      const jwt = await login(wiki, { redirectUri: REDIRECT, email: user.email, scope: 'openid', extra: { resource: API_RESOURCE } });
      assert.equal(jwt.tokens.access_token.split('.').length, 3);
      const viaJwt = await validate(jwt.tokens.access_token, { tool: 'wiki' });
      assert.deepEqual([viaJwt.body.valid, viaJwt.body.user.id, viaJwt.body.permission], [true, user.id, 'read']);
    });

    it('admins have admin in every tool that exists', async () => {
      const { key } = await adminCredential(server);
      assert.equal((await validate(key, { tool: 'ci-tool' })).body.permission, 'admin');
      assert.equal((await validate(key, { tool: 'no-such-tool' })).body.permission, null);
    });

    it('answers 401 with valid: false for a bad or revoked credential', async () => {
      const user = await server.createUser();
      const key = await keyFor(server, user);
      await server.store.apiKeys.revoke((await server.store.apiKeys.listForUser(user.id))[0]!.id, Date.now());
      for (const credential of [key, 'ghk_nonsense', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
        const res = await validate(credential, { tool: 'wiki' });
        assert.equal(res.status, 401, credential);
        assert.equal(res.body.valid, false);
        assert.equal(res.body.error, 'invalid_token');
        assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
      }
    });
  });
}

async function secretOf(server: TestServer, clientId: string): Promise<string> {
  const client = await server.store.clients.find(clientId);
  return server.secrets.decrypt(client!.secretCiphertext!, `client-secret:${clientId}`);
}
