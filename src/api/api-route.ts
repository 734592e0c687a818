import Router from '@koa/router';
import type { Context } from 'koa';
import { z, type ZodType } from 'zod';
import { HttpError } from '../http/errors.js';
import { readJson } from '../http/json-body.js';
import type { Authenticator, Principal } from './principal.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route:
 * - `admin`: Gatehouse admins (an admin's token with the admin scope, an admin's API key,
 *   or a machine client granted the admin scope);
 * - `self`: any person, on their own account;
 * - `public`: no credential checked here (the route does its own, like /api/validate).
 */
export type Access = 'admin' | 'self' | 'public';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Always set, except on `public` routes. */
  principal: Principal;
  ctx: Context;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRoute<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Koa-style path, e.g. `/api/users/:id`. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: ZodType<P>;
  query?: ZodType<Q>;
  body?: ZodType<B>;
  /** The body may be left out entirely (it is then read as `{}`). */
  bodyOptional?: boolean;
  /** Successful responses by status; a schema documents and (outside production) checks the body. */
  responses: Record<number, { description: string; schema?: ZodType }>;
  /** Further error statuses the route can answer, beyond the ones derived from its shape. */
  errors?: Record<number, string>;
  handle(input: RouteInput<P, Q, B>): Promise<RouteResult>;
}

/** Keeps each route's parameter types tied to its schemas. */
export const defineRoute = <P = unknown, Q = unknown, B = unknown>(route: ApiRoute<P, Q, B>): ApiRoute => route as unknown as ApiRoute;

/** "field: message; field: message" — which field is wrong, in the error's description. */
function describeIssues(error: z.ZodError, whole: string): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : whole}: ${i.message}`).join('; ');
}

function parse<T>(schema: ZodType<T> | undefined, value: unknown, whole: 'path' | 'query' | 'body'): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'invalid_request', describeIssues(result.error, whole));
  return result.data;
}

export interface MountOptions {
  authenticator: Authenticator;
  /** Audiences accepted on JWT access tokens for the management API. */
  audiences: readonly string[];
  authorize(principal: Principal, access: Exclude<Access, 'public'>, write: boolean): Promise<void>;
  /** Outside production every response is checked against its schema: drift fails tests. */
  checkResponses: boolean;
}

/** Registers routes on a Koa router: authenticate, authorise, validate the input, run, check the output. */
export function mountRoutes(routes: readonly ApiRoute[], options: MountOptions): Router {
  const router = new Router();
  for (const route of routes) {
    router[route.method](route.path, async (ctx) => {
      let principal = undefined as unknown as Principal;
      if (route.access !== 'public') {
        principal = await options.authenticator.authenticate(ctx, options.audiences);
        await options.authorize(principal, route.access, route.method !== 'get');
      }
      const params = parse(route.params, ctx.params, 'path');
      const query = parse(route.query, ctx.query, 'query');
      const sent = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
      const body = route.body ? parse(route.body, route.bodyOptional && !sent ? {} : await readJson(ctx), 'body') : undefined;
      const result = await route.handle({ params, query, body, principal, ctx });
      const documented = route.responses[result.status];
      if (options.checkResponses) {
        if (!documented) throw new Error(`${route.method} ${route.path} answered an undocumented ${result.status}`);
        documented.schema?.parse(result.body);
      }
      ctx.set('Cache-Control', 'no-store');
      if (result.headers) ctx.set(result.headers);
      ctx.status = result.status;
      if (result.body !== undefined) ctx.body = result.body;
    });
  }
  return router;
}
