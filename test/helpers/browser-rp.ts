import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import type { TestServer } from './gatehouse.js';
import { freePort } from './free-port.js';
import { discover } from './relying-party.js';

export interface RelyingParty {
  /** Visiting `${url}/login` starts a sign-in; the callback page shows `Signed in as <email>` in #who. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A real relying party on loopback for browser tests: it starts the login with PKCE and
 * finishes it with openid-client, as a team's tool would.
 */
export async function startRelyingParty(server: TestServer, clientName = 'Team Wiki'): Promise<RelyingParty> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const client = await server.createClient({ client_name: clientName, redirect_uris: [`${url}/callback`] });
  const config = await discover(server.issuer, client);
  const pending = new Map<string, string>();

  const rp = createServer((req, res) => {
    void (async () => {
      const current = new URL(req.url!, url);
      if (current.pathname === '/login') {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        pending.set(state, verifier);
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: `${url}/callback`,
          scope: 'openid email profile',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        });
        res.writeHead(302, { location: target.toString() }).end();
      } else if (current.pathname === '/callback') {
        const state = current.searchParams.get('state')!;
        const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.get(state)!, expectedState: state });
        const claims = tokens.claims()!;
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1 id="who">Signed in as ${claims.email as string}</h1><p id="verified">${String(claims.email_verified)}</p>`);
      } else res.writeHead(404).end();
    })().catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve) => rp.listen(port, '127.0.0.1', resolve));
  return { url, close: () => new Promise((resolve) => rp.close(() => resolve())) };
}
