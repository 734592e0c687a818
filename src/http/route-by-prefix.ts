import type Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

/**
 * Our routers, run only for paths whose first segment one of their routes starts with
 * (`/api/…`, `/account/…`, `/interaction/…`, …). Every other request, which is most of
 * them — `/token`, `/me`, `/introspection`, `/auth` — goes straight on to oidc-provider
 * instead of being matched against every route of every router first: that matching
 * was ~3% of a userinfo request. Routes and methods answer exactly as the routers do.
 *
 * A route whose path does not begin with a fixed segment (a parameter or a pattern
 * first) could match anywhere, so the routers then run for every request, as before.
 */
export function routeByPrefix(routers: readonly Router[]): Middleware {
  const run = compose(routers.flatMap((router) => [router.routes(), router.allowedMethods()])) as Middleware;
  const segments = new Set<string>();
  for (const layer of routers.flatMap((router) => router.stack)) {
    const segment = typeof layer.path === 'string' ? fixedFirstSegment(layer.path) : undefined;
    if (segment === undefined) return run;
    segments.add(segment);
  }
  // Lower case on both sides: the routers match without regard to case by default.
  return (ctx, next) => (segments.has(firstSegment(ctx.path).toLowerCase()) ? run(ctx, next) : next());
}

/** `/interaction/:uid/login` → `interaction`; undefined when the first segment is not plain text. */
function fixedFirstSegment(path: string): string | undefined {
  const segment = firstSegment(path);
  return /^[A-Za-z0-9._~-]+$/.test(segment) ? segment.toLowerCase() : undefined;
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return path.slice(1, end === -1 ? undefined : end);
}
