import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { testEnv, TEST_PASSWORD } from '../helpers/gatehouse.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discover, login } from '../helpers/relying-party.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://logtool.example.test/callback';
const WRONG_PASSWORD = 'a wrong but memorable passphrase';

/**
 * Runs the flows that carry secrets through a real server process and reads everything
 * it logged: passwords, codes, tokens, client secrets, API keys and mailed links must
 * never be in it; every request line carries a request id.
 */
describe('logs', function () {
  this.timeout(90_000);
  let smtp: TestSmtpServer;
  let server: ServerProcess | undefined;
  before(async () => {
    smtp = await startSmtpServer();
  });
  after(async () => {
    await server?.stop();
    await smtp?.stop();
  });

  it('never contain a password, code, token, secret, API key or mailed link, and carry request ids', async () => {
    const env = await testEnv(await backends[0]!.freshDatabaseUrl(), { SMTP_URL: smtp.url });
    const cli = async <T>(...args: string[]) => {
      const result = await runCli(args, env);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as T;
    };
    const email = 'logged@example.com';
    await cli('users', 'create', '--email', email, '--password', TEST_PASSWORD);
    const tool = await cli<{ id: string; client_secret: string }>('tools', 'create', '--id', 'logtool', '--name', 'Log tool', '--redirect-uri', REDIRECT);
    const { key } = await cli<{ key: string }>('api-keys', 'create', '--user', email, '--name', 'logs');
    server = await spawnServer(env);

    const config = await discover(server.url, { client_id: tool.id, client_secret: tool.client_secret });
    const { tokens, callbackUrl } = await login(config, { redirectUri: REDIRECT, email });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await oidc.fetchUserInfo(config, refreshed.access_token, oidc.skipSubjectCheck);
    await assert.rejects(login(config, { redirectUri: REDIRECT, email, password: WRONG_PASSWORD }));
    assert.equal((await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const agent = new UserAgent();
    await agent.submit(await agent.open(`${server.url}/account/forgot-password`), '/account/forgot-password', { email });
    const resetLink = (await smtp.waitForMail((m) => m.to.includes(email))).link();
    await agent.open(resetLink);
    const echoed = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'lb-trace-0123456789' } });
    assert.equal(echoed.headers.get('x-request-id'), 'lb-trace-0123456789', "a proxy's request id is kept");
    await new Promise((r) => setTimeout(r, 200)); // let the last lines be written

    const logs = server.output();
    const secrets = {
      password: TEST_PASSWORD,
      'wrong password': WRONG_PASSWORD,
      'authorization code': callbackUrl.searchParams.get('code')!,
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token!,
      'rotated refresh token': refreshed.refresh_token!,
      'ID token': tokens.id_token!,
      'client secret': tool.client_secret,
      'API key': key,
      'reset token': new URL(resetLink).searchParams.get('token')!,
    };
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(value && value.length >= 12, `${what} was captured`);
      assert.ok(!logs.includes(value), `the ${what} appears in the logs`);
    }
    const requests = logs.split('\n').filter((line) => line.includes('"msg":"request"'));
    assert.ok(requests.length > 10);
    assert.ok(requests.every((line) => /"request_id":"([0-9a-f-]{36}|lb-trace-0123456789)"/.test(line)));
  });
});
