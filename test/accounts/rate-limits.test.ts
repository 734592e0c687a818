import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`request rate limits on ${backend.name}`, function () {
    this.timeout(60_000);
    // Behind a trusted proxy, so each test browser can come from its own address.
    const fx = mailingFixture(backend, REDIRECT, { TRUST_PROXY: 'true', RATE_LIMIT_PER_IP: '3', RATE_LIMIT_MAIL_PER_ADDRESS: '2', RATE_LIMIT_WINDOW: '60' });
    let ip = 0;
    const browserFromNewAddress = () => new UserAgent(undefined, { 'x-forwarded-for': `198.51.100.${++ip}` });
    const forgot = async (agent: UserAgent, email: string): Promise<Page> =>
      agent.submit(await agent.open(`${fx.server.issuer}/account/forgot-password`), '/account/forgot-password', { email });
    const tooMany = (page: Page) => {
      assert.equal(page.status, 429);
      assert.equal(page.headers.get('retry-after'), '60');
      assert.match(page.html, /Too many requests/);
    };

    it('caps the mail one address receives, whoever asks and through whichever form', async () => {
      const victim = `victim-${backend.name}@example.com`;
      assert.equal((await forgot(browserFromNewAddress(), victim)).status, 200);
      assert.equal((await forgot(browserFromNewAddress(), victim)).status, 200);
      tooMany(await forgot(browserFromNewAddress(), victim));

      const agent = browserFromNewAddress();
      const { url } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT });
      const login = await agent.open(url.toString(), REDIRECT);
      const request = await agent.open(new URL(`${new URL(login.url).pathname}/magic-link`, fx.server.issuer).toString());
      tooMany(await agent.submit(request, '/magic-link', { email: victim }));
      assert.equal((await forgot(browserFromNewAddress(), `someone-else-${backend.name}@example.com`)).status, 200, 'other addresses are unaffected');
    });

    it('caps the sign-in posts one IP address may make, on every instance', async () => {
      const agent = browserFromNewAddress();
      const attempt = async (server: TestServer) => {
        const { url } = await pkceAuthorizationUrl(fx.config, { redirect_uri: REDIRECT });
        const page = await agent.open(url.toString().replace(fx.server.issuer, server.issuer), REDIRECT);
        return agent.submit(page, '/login', { email: 'nobody@example.com', password: 'wrong password here' }, REDIRECT);
      };
      for (let i = 0; i < 3; i++) assert.equal((await attempt(fx.server)).status, 401);
      tooMany(await attempt(fx.server));
      assert.equal((await forgot(agent, `unrelated-${backend.name}@example.com`)).status, 200, 'each form has its own budget');

      const second = await startTestServer(fx.server.config.databaseUrl, { TRUST_PROXY: 'true', RATE_LIMIT_PER_IP: '3', RATE_LIMIT_WINDOW: '60' });
      try {
        tooMany(await attempt(second));
      } finally {
        await second.stop();
      }
    });
  });
}
