import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { registerClient, type RegisteredClient } from '../../src/access/clients.js';
import { createUser } from '../../src/accounts/users.js';
import { Secrets } from '../../src/security/secrets.js';
import { openStore } from '../../src/store/open-store.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_PASSWORD, TEST_SECRET, testEnv } from '../helpers/gatehouse.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discover, login, pkceAuthorizationUrl, silentAuthorization } from '../helpers/relying-party.js';
import { startRoundRobinProxy, type ProxiedRequest, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';
const INSTANCES = 3;
const SIGN_IN_BUDGET = 4;

/** Which instances served the requests in `log` matching `pick`. */
const servedBy = (log: readonly ProxiedRequest[], pick: (r: ProxiedRequest) => boolean = () => true) => new Set(log.filter(pick).map((r) => r.upstream));

for (const backend of backends) {
  describe(`three instances on one ${backend.name} database behind a round-robin proxy`, function () {
    this.timeout(120_000);
    let instances: ServerProcess[] = [];
    let proxy: RoundRobinProxy | undefined;
    let client: RegisteredClient;
    let email: string;
    let sub: string;

    before(async () => {
      // The issuer is the proxy's address: the instances never hand out their own.
      const proxyPort = await freePort();
      const env = await testEnv(await backend.freshDatabaseUrl(), {
        ISSUER: `http://127.0.0.1:${proxyPort}`,
        // Client addresses come from the proxy's X-Forwarded-For.
        TRUST_PROXY: 'true',
        RATE_LIMIT_PER_IP: String(SIGN_IN_BUDGET),
        RATE_LIMIT_WINDOW: '60',
      });
      const store = await openStore(env.DATABASE_URL!);
      const user = await createUser(store, { email: `rr-${backend.name}@example.com`, password: TEST_PASSWORD, name: 'Round Robin' });
      [email, sub] = [user.email, user.id];
      client = await registerClient(store, new Secrets(TEST_SECRET), { client_name: 'Behind LB', redirect_uris: [REDIRECT] });
      await store.close();
      instances.push(await spawnServer(env));
      for (let i = 1; i < INSTANCES; i++) instances.push(await spawnServer({ ...env, PORT: String(await freePort()) }));
      proxy = await startRoundRobinProxy(
        instances.map((i) => i.url),
        proxyPort,
      );
    });
    after(async () => {
      await proxy?.close();
      await Promise.all(instances.map((i) => i.stop()));
      instances = [];
    });

    it('a person signs in (code + PKCE), refreshes, reads userinfo and signs out, each request on the next instance in turn', async () => {
      const from = proxy!.log.length;
      const config = await discover(proxy!.url, client);
      const agent = new UserAgent(proxy!.url, { 'x-forwarded-for': '198.51.100.10' });

      const { tokens } = await login(config, { redirectUri: REDIRECT, email, agent });
      assert.equal(tokens.claims()!.sub, sub);
      assert.equal(tokens.claims()!.email, email);
      assert.equal(await silentAuthorization(config, agent, REDIRECT), 'ok', 'the session holds on whichever instance answers');

      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()!.sub, sub);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token was rotated');
      const userinfo = await oidc.fetchUserInfo(config, refreshed.access_token, sub);
      assert.equal(userinfo.email, email);

      const confirm = await agent.open(oidc.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token! }).toString());
      const signedOut = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' });
      assert.equal(signedOut.status, 200);
      assert.match(signedOut.html, /Signed out/);
      assert.equal(await silentAuthorization(config, agent, REDIRECT), 'login_required');

      // The proxy did spread the flow: every instance took part, also in the steps that
      // carry state from one request to the next (the session, interaction, grant, tokens).
      const flow = proxy!.log.slice(from);
      assert.deepEqual([...servedBy(flow)].sort(), [0, 1, 2]);
      assert.deepEqual(flow.filter((r) => r.error), [], 'no request failed at the proxy');
      const stateful = servedBy(flow, (r) => r.method === 'POST' || r.path.startsWith('/auth') || r.path.startsWith('/interaction/') || r.path.startsWith('/me'));
      assert.equal(stateful.size, INSTANCES);
    });

    it(`the sign-in budget per address (${SIGN_IN_BUDGET}) is shared: the next try is refused by whichever instance gets it`, async () => {
      const agent = new UserAgent(proxy!.url, { 'x-forwarded-for': '198.51.100.20' });
      const config = await discover(proxy!.url, client);
      const { url } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT });
      let page: Page = await agent.open(url.toString(), REDIRECT);
      const from = proxy!.log.length;
      // Retrying on the page each failure returns, as a person would: one request a try.
      for (let i = 0; i < SIGN_IN_BUDGET; i++) {
        page = await agent.submit(page, '/login', { email: 'nobody@example.com', password: 'not the password at all' }, REDIRECT);
        assert.equal(page.status, 401, `try ${i + 1} is judged on its password`);
      }
      const refused = await agent.submit(page, '/login', { email: 'nobody@example.com', password: 'not the password at all' }, REDIRECT);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '60');
      assert.match(refused.html, /Too many requests/);

      const tries = proxy!.log.slice(from);
      assert.equal(tries.length, SIGN_IN_BUDGET + 1);
      assert.ok(tries.every((r) => r.method === 'POST' && r.path.endsWith('/login')));
      assert.deepEqual([...servedBy(tries)].sort(), [0, 1, 2], 'the tries were spread over every instance');
      const last = tries.at(-1)!.upstream;
      assert.ok(tries.slice(0, -1).filter((r) => r.upstream === last).length < SIGN_IN_BUDGET, 'the refusing instance had itself seen fewer tries than the budget');

      // Another address still has its own budget, on every instance.
      const other = new UserAgent(proxy!.url, { 'x-forwarded-for': '198.51.100.21' });
      const otherPage = await other.open((await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT })).url.toString(), REDIRECT);
      assert.equal((await other.submit(otherPage, '/login', { email: 'nobody@example.com', password: 'not the password at all' }, REDIRECT)).status, 401);
    });

    it('every instance served requests', () => {
      const counts = instances.map((_, i) => proxy!.log.filter((r) => r.upstream === i).length);
      assert.ok(counts.every((n) => n > 0), `requests per instance: ${counts.join(', ')}`);
    });
  });
}
