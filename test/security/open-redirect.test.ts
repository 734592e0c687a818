import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';

/** Names other products use for "where to go next"; ours take none, and must ignore them all. */
const RETURN_PARAMS = ['next', 'return', 'return_to', 'returnTo', 'redirect', 'redirectTo', 'redirect_uri', 'continue', 'url', 'goto'];
const EVIL = ['https://evil.example.test/', '//evil.example.test/', '/\\evil.example.test/', 'https:evil.example.test', '%2F%2Fevil.example.test'];

/** Our own GET pages, signed out: each either answers or redirects within Gatehouse. */
const PAGES = ['/account', '/account/signin', '/account/callback', '/account/register', '/account/forgot-password', '/account/verify-email', '/account/reset-password', '/account/keys', '/account/sessions'];

describe('no open redirect from our own pages', function () {
  this.timeout(60_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite::memory:');
  });
  after(() => server?.stop());

  it('every redirect stays on the issuer, whatever return parameter is added', async () => {
    const issuer = new URL(server.issuer);
    let redirects = 0;
    for (const page of PAGES) {
      for (const param of RETURN_PARAMS) {
        for (const target of EVIL) {
          const answer = await fetch(`${server.issuer}${page}?${param}=${encodeURIComponent(target)}`, { redirect: 'manual' });
          assert.ok(answer.status < 500, `${page}?${param}: ${answer.status}`);
          const location = answer.headers.get('location');
          if (location === null) continue;
          redirects++;
          const resolved = new URL(location, server.issuer);
          assert.equal(resolved.origin, issuer.origin, `${page}?${param}=${target} → ${location}`);
          // The sign-in hop goes to our /auth with the console's own registered callback, never the parameter.
          const onward = resolved.searchParams.get('redirect_uri');
          if (onward !== null) assert.equal(new URL(onward).origin, issuer.origin, `${page} → ${location}`);
        }
      }
    }
    assert.ok(redirects > 0, 'some pages redirect (signed out), so the check saw redirects');
  });
});
