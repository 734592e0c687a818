import Router from '@koa/router';
import Koa from 'koa';
import views from 'koa-views';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { consoleRouter } from './accounts/console-router.js';
import { apiRouter } from './api/index.js';
import { accountRouter } from './accounts/router.js';
import type { Config } from './config.js';
import { errorHandler } from './http/errors.js';
import { routeByPrefix } from './http/route-by-prefix.js';
import { securityHeaders } from './http/security-headers.js';
import { federationRouter } from './federation/router.js';
import { UpstreamClients } from './federation/upstream-clients.js';
import { interactionRouter } from './interactions/router.js';
import { secondFactorRouter } from './interactions/second-factor-router.js';
import type { Logger } from './logger.js';
import type { LiveProvider } from './oidc/live-provider.js';
import { publicDocuments } from './oidc/public-documents.js';
import { healthRouter, type Lifecycle } from './ops/health.js';
import type { Metrics } from './ops/metrics.js';
import type { Mailer } from './mail/mailer.js';
import { AuditLog } from './security/audit.js';
import { type ClientRateLimiter, tokenEndpointRateLimit } from './security/client-rate-limit.js';
import { Csrf } from './security/csrf.js';
import { LoginThrottle } from './security/login-throttle.js';
import { RateLimiter } from './security/rate-limit.js';
import type { Secrets } from './security/secrets.js';
import type { Store } from './store/port.js';

const viewsDir = fileURLToPath(new URL('../views', import.meta.url));

/** oidc-provider's default token route, which we do not rename. */
const TOKEN_PATH = '/token';

export interface AppDeps {
  config: Config;
  store: Store;
  secrets: Secrets;
  live: LiveProvider;
  logger: Logger;
  lifecycle: Lifecycle;
  mailer: Mailer;
  metrics: Metrics;
  clientLimiter: ClientRateLimiter;
}

/**
 * The HTTP surface, outermost first: request log, security headers, error handling,
 * views, our own routes, and finally oidc-provider for everything it owns (discovery,
 * /auth, /token, /jwks, …).
 */
export function createApp({ config, store, secrets, live, logger, lifecycle, mailer, metrics, clientLimiter }: AppDeps): Koa {
  const app = new Koa();
  app.proxy = config.trustProxy;
  // oidc-provider's middleware runs on our context (see LiveProvider), so its signed
  // cookies are signed with our app's keys and must be the ones the provider reads with.
  app.keys = secrets.cookieSigner;
  app.silent = true;

  app.use(requestLog(logger));
  app.use(metrics.middleware);
  app.use(securityHeaders(config.env === 'production'));
  // Without `cache`, every render reads its template (and partials) from disk through the
  // thread pool, which sign-ins share with argon2, and compiles it again. Only development
  // picks up edited templates without a restart. Pages name their template with its
  // extension ('layout.ejs'): koa-views stats the name as given first, and a bare
  // 'layout' would cost a failed stat and an ENOENT error on every render.
  app.use(views(viewsDir, { extension: 'ejs', options: { cache: config.env !== 'development' } }));
  app.use(errorHandler(logger));
  // Well before any router: these two documents are the most polled requests.
  app.use(publicDocuments(live, documentMaxAge(config.signingKeys.activationDelay)));

  const csrf = new Csrf(secrets, config.issuer);
  const audit = new AuditLog(store, logger, (action) => metrics.events.inc({ action }));
  const accountDeps = { store, audit, mailer, issuer: config.issuer, logger, secrets };
  const throttle = new LoginThrottle(store, config.loginThrottle);
  const limiter = new RateLimiter(store, config.rateLimits, (form) => metrics.rateLimited.inc({ limit: form }));
  const routers = [
    assetRouter(),
    healthRouter(store, lifecycle),
    metrics.router(),
    interactionRouter(live, accountDeps, csrf, throttle, limiter, config.upstreams),
    federationRouter(live, accountDeps, csrf, new UpstreamClients(config.upstreams)),
    secondFactorRouter(live, accountDeps, csrf, throttle),
    accountRouter(accountDeps, csrf, limiter),
    consoleRouter(accountDeps, live, csrf, config.apiKeysPerUser),
    apiRouter({ config, secrets, live, audit, account: accountDeps }),
  ];
  app.use(routeByPrefix(routers));

  app.use(tokenEndpointRateLimit(clientLimiter, TOKEN_PATH, config.rateLimits.windowSeconds));
  app.use(live.middleware);
  return app;
}

/** How long caches may keep discovery and JWKS: well inside the time a new key is published before it signs. */
const documentMaxAge = (activationDelaySeconds: number) => Math.min(300, Math.floor(activationDelaySeconds / 2));

function assetRouter(): Router {
  const css = readFileSync(new URL('assets/gatehouse.css', `file://${viewsDir}/`));
  const router = new Router();
  router.get('/assets/gatehouse.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });
  return router;
}

/** A caller's request id is kept when it looks like one (a proxy's or load balancer's), else one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * One JSON line per request, with a request id that is also sent back as X-Request-Id and
 * attached to any error logged for it. Paths only: query strings can carry codes and tokens.
 */
function requestLog(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('request', { request_id: requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 });
    }
  };
}
