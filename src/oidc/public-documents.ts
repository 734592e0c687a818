import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import type { LiveProvider } from './live-provider.js';

/** oidc-provider's default paths and route names of the two documents every relying party polls. */
const DOCUMENT_ROUTES = new Map([
  ['/.well-known/openid-configuration', 'discovery'],
  ['/jwks', 'jwks'],
]);

interface CachedDocument {
  /** The provider build it was rendered by: a key change makes a new build. */
  build: object;
  body: string;
  type: string;
  etag: string;
}

/**
 * Discovery and JWKS answered from memory: they change only when the provider is rebuilt
 * (a key change), yet oidc-provider renders them afresh on every request, and they are
 * the most polled documents an identity provider serves. The first request after a build
 * is rendered by the provider itself and kept; later ones get the same bytes, with an
 * ETag (304 for a matching If-None-Match) and a short public max-age. The max-age is far
 * below the signing-key activation delay, so a cached JWKS always holds the next key
 * before anything is signed with it.
 *
 * CORS stays as the provider does it for these public documents: any origin is allowed,
 * reflected, with `Vary: Origin`.
 */
export function publicDocuments(live: LiveProvider, maxAgeSeconds: number): Middleware {
  const cache = new Map<string, CachedDocument>();
  const cacheControl = `public, max-age=${maxAgeSeconds}`;
  return async (ctx, next) => {
    const route = DOCUMENT_ROUTES.get(ctx.path);
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || route === undefined) return next();
    // Named as the provider names them, for the request metrics.
    ctx.state.route = route;
    let doc = cache.get(ctx.path);
    if (doc?.build !== live.provider) {
      const build = live.provider;
      await live.middleware(ctx, next);
      if (ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body === null) return;
      const body = JSON.stringify(ctx.body);
      doc = { build, body, type: ctx.response.get('Content-Type'), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      cache.set(ctx.path, doc);
    }
    const origin = ctx.get('Origin');
    ctx.vary('Origin');
    if (origin) ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set({ ETag: doc.etag, 'Cache-Control': cacheControl });
    if (ctx.get('If-None-Match').split(',').some((tag) => tag.trim().replace(/^W\//, '') === doc.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.type = doc.type;
    ctx.body = doc.body;
  };
}
