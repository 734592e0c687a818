/**
 * Gatehouse request check for a tool's HTTP API: one `POST /api/validate` per request.
 *
 * Copy this file into your tool. It has no dependencies (it uses the global `fetch` of
 * Node 18+), and works with access tokens (opaque or JWT) and API keys (`ghk_…`) alike.
 *
 *   app.use(koaMiddleware({ issuer: 'https://login.example.com', tool: 'wiki', minimum: 'read' }));
 *   app.use(expressMiddleware({ issuer: 'https://login.example.com', tool: 'wiki' }));
 *
 * Handlers then find `{ user, permission }` on `ctx.state.gatehouse` (Koa) or
 * `req.gatehouse` (Express). Invalid or missing credentials get 401; a person with no
 * permission in the tool (or below `minimum`) gets 403; Gatehouse unreachable gets 503.
 */

export type Permission = 'read' | 'write' | 'admin';

/** The person behind the credential; null for a machine's client_credentials token. */
export interface GatehouseUser {
  id: string;
  email: string;
  name: string | null;
  role: 'admin' | 'viewer';
}

/** What `POST /api/validate` answers (200 → valid: true, 401 → valid: false). */
export type Validation =
  | { valid: true; user: GatehouseUser | null; tool: string | null; permission: Permission | null; error?: string }
  | { valid: false; error: string; error_description: string };

export interface ValidatorOptions {
  /** Gatehouse's issuer URL, e.g. https://login.example.com */
  issuer: string;
  /** Your tool's id (its client_id): the permission returned is the one in this tool. */
  tool: string;
  /**
   * Remember valid answers this long (milliseconds; default 0, no cache). Keep it to a
   * few seconds: a revoked key, a disabled user or a changed permission then takes up to
   * this long to be noticed here.
   */
  cacheMs?: number;
}

export interface GatehouseState {
  user: GatehouseUser | null;
  permission: Permission | null;
}

/** Gatehouse could not be asked (network error, timeout, unexpected answer). */
export class GatehouseUnavailableError extends Error {
  override name = 'GatehouseUnavailableError';
}

const LEVELS: readonly Permission[] = ['read', 'write', 'admin'];
const TIMEOUT_MS = 5_000;
const MAX_CACHED = 1_000;

/** Whether `permission` is `minimum` or higher ('read' < 'write' < 'admin'). */
export function atLeast(permission: Permission | null, minimum: Permission): boolean {
  return permission !== null && LEVELS.indexOf(permission) >= LEVELS.indexOf(minimum);
}

/** Returns `validate(authorizationHeader)`, which asks Gatehouse about the credential for your tool. */
export function createValidator({ issuer, tool, cacheMs = 0 }: ValidatorOptions) {
  const endpoint = `${issuer.replace(/\/+$/, '')}/api/validate`;
  const cache = new Map<string, { result: Validation; until: number }>();

  return async function validate(authorization: string | null | undefined): Promise<Validation> {
    if (!authorization) {
      return { valid: false, error: 'invalid_token', error_description: 'Send an access token or API key as Authorization: Bearer <credential>.' };
    }
    const now = Date.now();
    const cached = cache.get(authorization);
    if (cached && cached.until > now) return cached.result;

    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ tool }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new GatehouseUnavailableError(`cannot reach ${endpoint}: ${(err as Error).message}`);
    }
    if (res.status !== 200 && res.status !== 401) {
      throw new GatehouseUnavailableError(`${endpoint} answered ${res.status}`);
    }
    const result = (await res.json()) as Validation;

    if (cacheMs > 0 && result.valid) {
      if (cache.size >= MAX_CACHED) {
        for (const [key, entry] of cache) if (entry.until <= now) cache.delete(key);
        if (cache.size >= MAX_CACHED) cache.clear();
      }
      cache.set(authorization, { result, until: now + cacheMs });
    }
    return result;
  };
}

export interface MiddlewareOptions extends ValidatorOptions {
  /** Lowest permission let through (default: any permission at all). */
  minimum?: Permission;
}

interface Decision {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  state?: GatehouseState;
}

/** The framework-free part: what to answer, or the state to hand on. */
function decider(options: MiddlewareOptions) {
  const validate = createValidator(options);
  return async (authorization: string | null | undefined): Promise<Decision> => {
    let result: Validation;
    try {
      result = await validate(authorization);
    } catch (err) {
      if (!(err instanceof GatehouseUnavailableError)) throw err;
      return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'Cannot check credentials right now.' }, headers: { 'Retry-After': '5' } };
    }
    if (!result.valid) {
      const challenge = authorization ? 'Bearer error="invalid_token"' : 'Bearer';
      return { status: 401, body: { error: result.error, error_description: result.error_description }, headers: { 'WWW-Authenticate': challenge } };
    }
    if (result.permission === null) {
      return { status: 403, body: { error: 'forbidden', error_description: 'No access to this tool.' }, headers: {} };
    }
    if (options.minimum && !atLeast(result.permission, options.minimum)) {
      return { status: 403, body: { error: 'forbidden', error_description: `This needs the ${options.minimum} permission.` }, headers: {} };
    }
    return { status: 200, body: undefined, headers: {}, state: { user: result.user, permission: result.permission } };
  };
}

/** The parts of a Koa context this uses. */
interface KoaLikeContext {
  get(field: string): string;
  set(field: string, value: string): void;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
}

/** Koa middleware: sets `ctx.state.gatehouse` and calls `next()`, or answers 401/403/503. */
export function koaMiddleware(options: MiddlewareOptions) {
  const decide = decider(options);
  return async (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> => {
    const decision = await decide(ctx.get('authorization'));
    if (!decision.state) {
      for (const [name, value] of Object.entries(decision.headers)) ctx.set(name, value);
      ctx.status = decision.status;
      ctx.body = decision.body;
      return;
    }
    ctx.state.gatehouse = decision.state;
    await next();
  };
}

/** The parts of Express's request and response this uses (no dependency on @types/express). */
interface ExpressLikeRequest {
  headers: { authorization?: string | undefined };
  gatehouse?: GatehouseState;
}
interface ExpressLikeResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
}

/** Express middleware: sets `req.gatehouse` and calls `next()`, or answers 401/403/503. */
export function expressMiddleware(options: MiddlewareOptions) {
  const decide = decider(options);
  return (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (err?: unknown) => void): void => {
    decide(req.headers.authorization).then((decision) => {
      if (!decision.state) {
        for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
        res.status(decision.status);
        res.json(decision.body);
        return;
      }
      req.gatehouse = decision.state;
      next();
    }, next);
  };
}
