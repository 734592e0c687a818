/**
 * Plays the person's browser in HTTP-level tests: keeps cookies, follows redirects, and
 * fills in and submits the hosted pages' forms. (The relying party side is always
 * openid-client; a real Chromium covers the pages themselves in test/browser.)
 */
export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

export class UserAgent {
  readonly cookies = new Map<string, string>();

  /**
   * @param publicOrigin the origin the browser believes it is on (one load-balanced origin for several instances)
   * @param extraHeaders sent with every request (e.g. a spoofed X-Forwarded-For)
   */
  constructor(
    private readonly publicOrigin?: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  /** GET `url` and follow redirects until a response that is not one, or one leaving for `stopAt`. */
  async open(url: string, stopAt?: string): Promise<Page> {
    return this.follow(await this.request(url, { method: 'GET' }), url, stopAt);
  }

  /** Submits the form whose action contains `actionPart`, with its hidden fields plus `fields`. */
  async submit(page: Page, actionPart: string, fields: Record<string, string> = {}, stopAt?: string): Promise<Page> {
    const form = findForm(page.html, actionPart);
    const action = new URL(form.action, page.url).toString();
    const body = new URLSearchParams({ ...form.hidden, ...fields });
    const response = await this.request(action, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.publicOrigin ?? new URL(page.url).origin },
    });
    return this.follow(response, action, stopAt);
  }

  async request(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers({ ...this.extraHeaders, ...Object.fromEntries(new Headers(init.headers)) });
    // Cookies are scoped by host name, not port (RFC 6265 §8.5), as in a browser.
    const host = new URL(url).hostname;
    const jar = [...this.cookies].filter(([k]) => k.startsWith(`${host}|`)).map(([k, v]) => `${k.split('|')[1]}=${v}`);
    if (jar.length) headers.set('cookie', jar.join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.cookies.delete(`${host}|${name}`);
      else this.cookies.set(`${host}|${name}`, value);
    }
    return response;
  }

  private async follow(response: Response, url: string, stopAt?: string): Promise<Page> {
    let current = response;
    let currentUrl = url;
    for (let hops = 0; hops < 20; hops++) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) break;
      currentUrl = new URL(location, currentUrl).toString();
      if (stopAt && currentUrl.startsWith(stopAt)) return { url: currentUrl, status: current.status, html: '', headers: current.headers };
      current = await this.request(currentUrl, { method: 'GET' });
    }
    return { url: currentUrl, status: current.status, html: await current.text(), headers: current.headers };
  }
}

/** The first form whose action contains `actionPart`: its action, and its hidden fields' values. */
export function findForm(html: string, actionPart: string): { action: string; hidden: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  for (const [, attrs = '', inner = ''] of forms) {
    const action = /action="([^"]*)"/i.exec(attrs)?.[1];
    if (action === undefined || !action.includes(actionPart)) continue;
    const hidden: Record<string, string> = {};
    for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
      if (!/type="hidden"/i.test(input)) continue;
      const name = /name="([^"]*)"/i.exec(input)?.[1];
      const value = /value="([^"]*)"/i.exec(input)?.[1] ?? '';
      if (name) hidden[name] = decodeEntities(value);
    }
    return { action: decodeEntities(action), hidden };
  }
  throw new Error(`no form with action containing "${actionPart}" in page:\n${html.slice(0, 500)}`);
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
