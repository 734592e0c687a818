import Router from '@koa/router';
import { readFileSync } from 'node:fs';
import { ApiKeyVerifier } from '../access/api-keys.js';
import type { AccountDeps } from '../accounts/deps.js';
import type { Config } from '../config.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { AuditLog } from '../security/audit.js';
import type { Secrets } from '../security/secrets.js';
import { mountRoutes, type ApiRoute } from './api-route.js';
import { auditRoutes } from './audit-routes.js';
import { createAuthorizer } from './authorize.js';
import { keyRoutes } from './keys-routes.js';
import { meRoutes } from './me-routes.js';
import { openApiDocument } from './openapi.js';
import { permissionRoutes } from './permissions-routes.js';
import { AccessTokenVerifier } from './access-token-verifier.js';
import { Authenticator } from './principal.js';
import { toolRoutes } from './tools-routes.js';
import { userRoutes } from './users-routes.js';
import { validateRoute } from './validate-route.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export interface ApiDeps {
  config: Config;
  secrets: Secrets;
  live: LiveProvider;
  audit: AuditLog;
  account: AccountDeps;
}

/** Every management API route, in the order the OpenAPI document lists them. */
export function apiRoutes({ config, secrets, live, audit, account }: ApiDeps, authenticator: Authenticator): ApiRoute[] {
  const { store } = account;
  const adminDeps = { store, audit, secrets };
  return [
    ...meRoutes(account),
    ...keyRoutes({ ...adminDeps, keysPerUser: config.apiKeysPerUser }),
    validateRoute(store, authenticator, [config.defaultResource, ...config.resources]),
    ...userRoutes(adminDeps),
    ...toolRoutes(adminDeps),
    ...permissionRoutes(adminDeps),
    ...auditRoutes(store),
  ];
}

/** The management API under /api, and its OpenAPI 3.1 document at /api/openapi.json. */
export function apiRouter(deps: ApiDeps): Router {
  const { config, live, secrets, account } = deps;
  const jwts = new AccessTokenVerifier(() => live.verificationKeys, config.issuer, config.jwtCacheSize);
  const authenticator = new Authenticator(live, account.store, new ApiKeyVerifier(account.store, secrets), jwts);
  const routes = apiRoutes(deps, authenticator);
  const router = mountRoutes(routes, {
    authenticator,
    // JWT access tokens for the API carry its audience: the default resource.
    audiences: [config.defaultResource],
    authorize: createAuthorizer(account.store),
    checkResponses: config.env !== 'production',
  });
  const document = openApiDocument(routes, { issuer: config.issuer, version });
  router.get('/api/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = document;
  });
  return router;
}
