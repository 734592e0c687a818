import type { Middleware } from 'koa';

/**
 * Headers on every response. The CSP forbids framing and any third-party or inline
 * resource. `script-src` is listed so oidc-provider can add the hash of its form_post
 * auto-submit script. There is deliberately no `form-action`: Chrome applies it to the
 * redirects after a form post, and a login ends in a redirect to the client.
 */
export function securityHeaders(production: boolean): Middleware {
  const csp = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "base-uri 'none'", "frame-ancestors 'none'"].join('; ');
  // Built once: every response, the token endpoint's included, sends the same set.
  const headers: Record<string, string> = {
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Opener-Policy': 'same-origin',
    ...(production ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
  };
  return async (ctx, next) => {
    ctx.set(headers);
    await next();
  };
}
