/**
 * A person's login at the HTTP level, as a browser and a relying party would do it:
 * authorization code + PKCE (S256) through the hosted password form, the consent page
 * when shown, then the code exchanged at the token endpoint. Cookies persist per
 * Browser, so a second login in the same browser finds the consent it gave before.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Agent } from 'node:http';
import { findForm } from '../../test/helpers/user-agent.js';
import { basicAuth, httpRequest, keepAliveAgent, type HttpResponse } from './http.js';

export interface RelyingParty {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface LoginOptions {
  email: string;
  password: string;
  scope?: string;
  /** e.g. 'consent' (first login), 'login' (force the password form again). */
  prompt?: string;
  /** RFC 8707 resource: gets a JWT access token for that API. */
  resource?: string;
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

export interface LoginOutcome {
  tokens: TokenSet;
  /** Hosted pages the person went through. */
  pages: { login: number; consent: number };
}

const b64url = (buf: Buffer) => buf.toString('base64url');

export class Browser {
  readonly #cookies = new Map<string, string>();
  readonly agent: Agent;

  constructor(agent?: Agent) {
    this.agent = agent ?? keepAliveAgent(1);
  }

  async #send(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResponse> {
    const all = { ...headers };
    if (this.#cookies.size) all.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await httpRequest(method, url, { headers: all, ...(body !== undefined ? { body } : {}), agent: this.agent });
    const setCookie = res.headers['set-cookie'] ?? [];
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()));
      if (gone) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects until a page that is not one, or a redirect to `stopAt` (returned as its URL). */
  async #follow(res: HttpResponse, url: string, stopAt: string): Promise<{ url: string; res: HttpResponse }> {
    let current = res;
    let currentUrl = url;
    for (let hops = 0; hops < 20; hops++) {
      const location = current.headers.location;
      if (current.status < 300 || current.status >= 400 || typeof location !== 'string') break;
      currentUrl = new URL(location, currentUrl).toString();
      if (currentUrl.startsWith(stopAt)) return { url: currentUrl, res: current };
      current = await this.#send('GET', currentUrl);
    }
    return { url: currentUrl, res: current };
  }

  async #submit(pageUrl: string, html: string, actionPart: string, fields: Record<string, string>, stopAt: string, origin: string) {
    const form = findForm(html, actionPart);
    const action = new URL(form.action, pageUrl).toString();
    const body = new URLSearchParams({ ...form.hidden, ...fields }).toString();
    const res = await this.#send('POST', action, { 'content-type': 'application/x-www-form-urlencoded', origin }, body);
    return this.#follow(res, action, stopAt);
  }

  /** The whole login: hosted pages, then the code exchanged for tokens. */
  async login(rp: RelyingParty, options: LoginOptions): Promise<LoginOutcome> {
    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(12));
    const params = new URLSearchParams({
      client_id: rp.clientId,
      response_type: 'code',
      redirect_uri: rp.redirectUri,
      scope: options.scope ?? 'openid',
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      state,
    });
    if (options.prompt) params.set('prompt', options.prompt);
    if (options.resource) params.set('resource', options.resource);
    const start = `${rp.authorizationEndpoint}?${params}`;
    const origin = new URL(rp.issuer).origin;
    const pages = { login: 0, consent: 0 };
    let at = await this.#follow(await this.#send('GET', start), start, rp.redirectUri);
    for (let step = 0; step < 5 && !at.url.startsWith(rp.redirectUri); step++) {
      const html = at.res.body;
      if (html.includes('/login"')) {
        pages.login++;
        at = await this.#submit(at.url, html, '/login', { email: options.email, password: options.password }, rp.redirectUri, origin);
      } else if (html.includes('/confirm"')) {
        pages.consent++;
        at = await this.#submit(at.url, html, '/confirm', {}, rp.redirectUri, origin);
      } else break;
    }
    if (!at.url.startsWith(rp.redirectUri)) {
      throw new Error(`login did not reach the redirect URI; ended at ${at.url} (${at.res.status}): ${at.res.body.slice(0, 300)}`);
    }
    const answer = new URL(at.url).searchParams;
    const code = answer.get('code');
    if (!code || answer.get('state') !== state) throw new Error(`no code in the callback: ${at.url}`);
    const form: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: verifier };
    if (options.resource) form.resource = options.resource;
    const res = await httpRequest('POST', rp.tokenEndpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(rp.clientId, rp.clientSecret), accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      agent: this.agent,
    });
    if (res.status !== 200) throw new Error(`token exchange answered ${res.status}: ${res.body.slice(0, 300)}`);
    return { tokens: JSON.parse(res.body) as TokenSet, pages };
  }
}
