import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { passwordHashing } from '../../src/accounts/passwords.js';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { discover, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { UserAgent } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

/** The value of one series in Prometheus text, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('/metrics', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), { RATE_LIMIT_PER_IP: '1' });
  });
  after(() => server?.stop());

  const scrape = async () => {
    const res = await fetch(`${server.issuer}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('counts requests by route and status, tokens by grant, sign-in outcomes, rate-limit refusals and store latency', async () => {
    const before = await scrape();
    const machine = await discover(server.issuer, await server.createClient({ grant_types: ['client_credentials'] }));
    await oidc.clientCredentialsGrant(machine);
    await oidc.clientCredentialsGrant(machine);

    const app = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
    const agent = new UserAgent();
    for (let i = 0; i < 2; i++) {
      const { url } = await pkceAuthorizationUrl(app, { redirect_uri: REDIRECT });
      await agent.submit(await agent.open(url.toString(), REDIRECT), '/login', { email: 'nobody@example.com', password: 'wrong password here' }, REDIRECT);
    }

    const after = await scrape();
    const grew = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(grew('gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }), 2);
    assert.equal(grew('http_requests_total', { route: 'token', status: '200' }), 2);
    assert.ok(grew('http_request_duration_seconds_count', { route: 'token' }) >= 2);
    assert.equal(grew('gatehouse_audit_events_total', { action: 'login.failed' }), 1, 'the first sign-in failed');
    assert.equal(grew('gatehouse_rate_limited_total', { limit: 'login' }), 1, 'the second was over the per-IP budget');
    assert.equal(grew('http_requests_total', { route: '/interaction/:uid/login', status: '429' }), 1);
    assert.ok(grew('gatehouse_store_operation_duration_seconds_count', { repository: 'clients', operation: 'find', outcome: 'ok' }) >= 1);
    assert.ok(sample(after, 'process_resident_memory_bytes') > 0, 'process metrics too');
  });

  it('shows password hashes running and waiting for a slot', async () => {
    const before = passwordHashing.limit;
    passwordHashing.setLimit(1);
    // Slots held by tasks the test finishes, so the scrape sees a queue however slow the machine.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tasks = [1, 2, 3].map(() => passwordHashing.run(() => held));
    try {
      const busy = await scrape();
      assert.equal(sample(busy, 'gatehouse_password_hashes', { state: 'running' }), 1);
      assert.equal(sample(busy, 'gatehouse_password_hashes', { state: 'waiting' }), 2);
    } finally {
      release();
      await Promise.all(tasks);
      passwordHashing.setLimit(before);
    }
    const idle = await scrape();
    assert.equal(sample(idle, 'gatehouse_password_hashes', { state: 'running' }), 0);
    assert.equal(sample(idle, 'gatehouse_password_hashes', { state: 'waiting' }), 0);
  });

  it('labels unknown paths as one series, so probing URLs cannot multiply series', async () => {
    for (const path of ['/nope-1', '/nope-2', '/nope-3']) await fetch(`${server.issuer}${path}`);
    const text = await scrape();
    assert.ok(sample(text, 'http_requests_total', { route: 'unmatched', status: '404' }) >= 3);
    assert.ok(!text.includes('nope-1'));
  });
});
