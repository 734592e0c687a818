import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, testEnv } from '../helpers/gatehouse.js';
import { runCli } from '../helpers/processes.js';
import { discover } from '../helpers/relying-party.js';

describe('gatehouse CLI', function () {
  this.timeout(60_000);
  let env: Record<string, string>;
  before(async () => {
    env = await testEnv(await backends[0]!.freshDatabaseUrl());
  });

  it('users create prints the user as JSON, and refuses a duplicate email in any case', async () => {
    const created = await runCli(['users', 'create', '--email', 'Cli@Example.com', '--password', 'a long enough password', '--name', 'Cli', '--admin'], env);
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout) as Record<string, unknown>;
    assert.equal(user.email, 'cli@example.com');
    assert.equal(user.role, 'admin');
    assert.equal('password_hash' in user || 'passwordHash' in user, false);

    const again = await runCli(['users', 'create', '--email', 'CLI@example.com', '--password', 'a long enough password'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Another user has that email address/);
    assert.equal(again.stdout, '');
  });

  it('users create refuses a short password with a clear message', async () => {
    const result = await runCli(['users', 'create', '--email', 'short@example.com', '--password', 'short'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /password: .*at least 12 characters/);
  });

  it('clients create shows the secret once, and it works for client_credentials', async () => {
    const result = await runCli(['clients', 'create', '--name', 'Robot', '--grant-type', 'client_credentials'], env);
    assert.equal(result.code, 0, result.stderr);
    const client = JSON.parse(result.stdout) as { client_id: string; client_secret: string };
    assert.ok(client.client_secret.length >= 43);

    const server = await startTestServer(env.DATABASE_URL!);
    try {
      const record = await server.store.clients.find(client.client_id);
      assert.ok(record?.secretCiphertext && !record.secretCiphertext.includes(client.client_secret), 'secret encrypted at rest');
      const tokens = await oidc.clientCredentialsGrant(await discover(server.issuer, client));
      assert.ok(tokens.access_token);
    } finally {
      await server.stop();
    }
  });

  it('clients create refuses an invalid redirect URI and a public client_credentials client', async () => {
    const fragment = await runCli(['clients', 'create', '--name', 'X', '--redirect-uri', 'https://a.example/cb#frag'], env);
    assert.equal(fragment.code, 1);
    assert.match(fragment.stderr, /fragment/);
    const plainHttp = await runCli(['clients', 'create', '--name', 'X', '--redirect-uri', 'http://a.example/cb'], env);
    assert.match(plainHttp.stderr, /http is only allowed for loopback/);
    const publicMachine = await runCli(['clients', 'create', '--name', 'X', '--public', '--grant-type', 'client_credentials'], env);
    assert.match(publicMachine.stderr, /public client cannot use client_credentials/);
  });

  it('signing-keys list shows the active keys without private material', async () => {
    const result = await runCli(['signing-keys', 'list'], env);
    assert.equal(result.code, 0, result.stderr);
    const keys = JSON.parse(result.stdout) as { alg: string; state: string }[];
    assert.deepEqual(keys.map((k) => `${k.alg}:${k.state}`).sort(), ['ES256:active', 'RS256:active']);
    assert.doesNotMatch(result.stdout, /"d"|ciphertext/i);
  });

  it('an unknown command prints usage and exits 2', async () => {
    const result = await runCli(['frobnicate'], env);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /usage: gatehouse/);
  });

  describe('CLIENTS_FILE', () => {
    it('seeds clients at start, idempotently', async () => {
      const file = join(env.DATA_DIR!, 'clients.json');
      const tool = { client_id: 'wiki', client_name: 'Wiki', redirect_uris: ['https://wiki.example/cb'], client_secret: 's'.repeat(40) };
      writeFileSync(file, JSON.stringify([tool, { client_id: 'cli-tool', client_name: 'CLI', public: true, application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] }]));
      for (let start = 0; start < 2; start++) {
        const server = await startTestServer(env.DATABASE_URL!, { CLIENTS_FILE: file });
        try {
          const ids = (await server.store.clients.list()).map((c) => c.clientId);
          assert.equal(ids.filter((id) => id === 'wiki').length, 1);
          assert.ok(ids.includes('cli-tool'));
          const config = await discover(server.issuer, { client_id: 'wiki', client_secret: tool.client_secret });
          assert.equal(config.clientMetadata().client_id, 'wiki');
        } finally {
          await server.stop();
        }
      }
    });

    it('refuses to start on an invalid file, naming the problem', async () => {
      const file = join(env.DATA_DIR!, 'bad-clients.json');
      writeFileSync(file, JSON.stringify([{ client_id: 'broken', client_name: 'X', redirect_uris: ['not a url'] }]));
      const result = await runCli(['serve'], { ...env, CLIENTS_FILE: file });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^startup error: CLIENTS_FILE: \[0\.redirect_uris\.0\]/m);
    });
  });
});
