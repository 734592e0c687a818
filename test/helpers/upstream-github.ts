import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { freePort } from './free-port.js';

export interface GitHubAccount {
  id: number;
  login: string;
  name: string | null;
  avatar_url: string | null;
  emails: Array<{ email: string; verified: boolean; primary: boolean }>;
}

export interface UpstreamGitHub {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Who is signed in at "GitHub": the account the next authorization is for. */
  signedIn: GitHubAccount | undefined;
  stop(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};

/**
 * A GitHub-shaped OAuth 2.0 server on loopback: authorize (approving at once for the
 * signed-in account), the token endpoint with client authentication and PKCE checks,
 * and the REST API's /user and /user/emails. It serves both the web and API roles.
 */
export async function startUpstreamGitHub(redirectUri: string): Promise<UpstreamGitHub> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const codes = new Map<string, { account: GitHubAccount; challenge: string }>();
  const tokens = new Map<string, GitHubAccount>();
  const github: UpstreamGitHub = {
    url,
    clientId: 'gh-client',
    clientSecret: 'gh-secret-for-tests-0123456789',
    signedIn: undefined,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  const server = createServer((req, res) => {
    void (async () => {
      const current = new URL(req.url!, url);
      if (current.pathname === '/login/oauth/authorize') {
        const q = current.searchParams;
        if (q.get('client_id') !== github.clientId || q.get('redirect_uri') !== redirectUri || !github.signedIn) return res.writeHead(400).end('bad request');
        if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return res.writeHead(400).end('pkce required');
        const code = randomBytes(12).toString('hex');
        codes.set(code, { account: github.signedIn, challenge: q.get('code_challenge')! });
        return res.writeHead(302, { location: `${redirectUri}?code=${code}&state=${encodeURIComponent(q.get('state') ?? '')}` }).end();
      }
      if (current.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const body = await readBody(req);
        const grant = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        const verifierHash = createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url');
        if (body.get('client_id') !== github.clientId || body.get('client_secret') !== github.clientSecret) return json(res, 401, { error: 'incorrect_client_credentials' });
        if (!grant || grant.challenge !== verifierHash) return json(res, 400, { error: 'bad_verification_code' });
        const token = randomBytes(16).toString('hex');
        tokens.set(token, grant.account);
        return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const account = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (!account) return json(res, 401, { message: 'Bad credentials' });
      if (current.pathname === '/user') return json(res, 200, { id: account.id, login: account.login, name: account.name, avatar_url: account.avatar_url });
      if (current.pathname === '/user/emails') return json(res, 200, account.emails);
      return json(res, 404, { message: 'Not Found' });
    })().catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return github;
}
