import type Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

/**
 * Our routers, each run only for paths whose first segment one of its routes starts with
 * (`/api/…`, `/account/…`, `/interaction/…`, …). Every other request, which is most of
 * them — `/token`, `/me`, `/introspection`, `/auth` — goes straight on to oidc-provider
 * instead of being matched against every route of every router first: that matching
 * was ~3% of a userinfo request. A request under `/api` meets only the routers with a
 * route there: each router asks for the request's host and tests its own routes, ~3 µs
 * a router on every management API call. Routes and methods answer exactly as the
 * routers do: the routers that own a segment run in their given order, and a router's
 * 405/501 answer only ever concerns routes it matched.
 *
 * A route whose path does not begin with a fixed segment (a parameter or a pattern
 * first) could match anywhere, so the routers then all run for every request, as before.
 */
export function routeByPrefix(routers: readonly Router[]): Middleware {
  const chain = (owners: readonly Router[]) => compose(owners.flatMap((router) => [router.routes(), router.allowedMethods()])) as Middleware;
  const owners = new Map<string, Router[]>();
  for (const router of routers) {
    for (const layer of router.stack) {
      const segment = typeof layer.path === 'string' ? fixedFirstSegment(layer.path) : undefined;
      if (segment === undefined) return chain(routers);
      const list = owners.get(segment) ?? [];
      if (!list.includes(router)) owners.set(segment, [...list, router]);
    }
  }
  const bySegment = new Map([...owners].map(([segment, list]) => [segment, chain(list)]));
  // Lower case on both sides: the routers match without regard to case by default.
  return (ctx, next) => {
    const owned = bySegment.get(firstSegment(ctx.path).toLowerCase());
    return owned ? owned(ctx, next) : next();
  };
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
