import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * Every setting Gatehouse reads from the environment, validated once at start into a
 * frozen object that is passed down. Nothing else in the code base reads `process.env`,
 * so tests can build a config without patching globals.
 */
export interface Config {
  readonly env: 'production' | 'development' | 'test';
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** Root secret; undefined in development until {@link resolveSecret} generates one. */
  readonly secret: string | undefined;
  readonly clientsFile: string | undefined;
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string; readonly outboxDir: string };
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  readonly trustProxy: boolean;
  /** Let oidc-provider's outgoing requests (back-channel logout, client JWKS) reach private and loopback addresses. */
  readonly allowPrivateNetworkRequests: boolean;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly ttl: {
    readonly accessToken: number;
    readonly idToken: number;
    readonly refreshToken: number;
    readonly session: number;
    readonly sessionIdle: number;
  };
  readonly signingKeys: {
    /** Seconds a rotated-in key is published in JWKS before it signs anything. */
    readonly activationDelay: number;
    /** Seconds between reloads of the key set from the store (multi-instance rotation). */
    readonly refreshInterval: number;
  };
  /** Audience of JWT access tokens when a client asks for no `resource`. */
  readonly defaultResource: string;
  /** Further resource indicators clients may ask tokens for. */
  readonly resources: readonly string[];
  readonly shutdownTimeout: number;
  /** Seconds an idle kept-alive connection stays open (advertised as `Keep-Alive: timeout=`). */
  readonly keepAliveTimeout: number;
  /** How JWT access tokens are signed: ES256 (compact, fast) or RS256 for verifiers that know nothing else. */
  readonly accessTokenSigningAlg: 'ES256' | 'RS256';
  /** Server processes sharing the port (node:cluster); 1 serves from this process. */
  readonly workers: number;
  readonly loginThrottle: { readonly perAccount: number; readonly perIp: number; readonly windowSeconds: number };
  readonly rateLimits: { readonly perIp: number; readonly mailPerAddress: number; readonly tokenPerClient: number; readonly windowSeconds: number };
  /** How many usable (unrevoked, unexpired) API keys one user may hold. */
  readonly apiKeysPerUser: number;
  /** Verified JWT access tokens each process remembers for the API (0: verify every time). */
  readonly jwtCacheSize: number;
  /** Password hashes (argon2, 19 MiB each) computed at once per process; the rest queue. */
  readonly passwordHashConcurrency: number;
  /** Configured upstream OpenID providers, in button order; empty when none is set. */
  readonly upstreams: readonly UpstreamConfig[];
}

export interface UpstreamConfig {
  /** Path segment and identity namespace: `google`, `github` or `oidc`. */
  readonly id: string;
  /** OpenID Connect with discovery, or GitHub's OAuth 2.0 plus its REST API. */
  readonly kind: 'oidc' | 'github';
  /** GitHub only: where /user and /user/emails live. */
  readonly apiUrl?: string;
  /** The button's text: "Continue with <label>". */
  readonly label: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const HASH_COUNT = { error: 'must be a whole number from 1 to 256, e.g. 2' };
const CACHE_SIZE = { error: 'must be a whole number, e.g. 10000, or 0 to turn it off' };
const seconds = (fallback: number, example: string) =>
  z.coerce
    .number({ error: `must be a whole number of seconds, e.g. ${example}` })
    .int({ error: `must be a whole number of seconds, e.g. ${example}` })
    .positive({ error: `must be positive, e.g. ${example}` })
    .default(fallback);

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => ['true', '1', 'yes'].includes(v))
  .default(false);

const absoluteUrl = (example: string) =>
  z.url({ error: `must be an absolute URL, e.g. ${example}` }).refine((u) => !u.endsWith('/'), {
    error: `must not end with a slash, e.g. ${example}`,
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test'], { error: 'must be production, development or test' }).default('development'),
  PORT: z.coerce
    .number({ error: 'must be a port number, e.g. 3000' })
    .int({ error: 'must be a port number, e.g. 3000' })
    .min(0, { error: 'must be a port number, e.g. 3000' })
    .max(65535, { error: 'must be a port number, e.g. 3000' })
    .default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  ISSUER: absoluteUrl('https://login.example.com').optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|mongodb(\+srv)?:\/\/.+)$/, {
      error: 'must be sqlite:<path> or a mongodb:// URL, e.g. sqlite:./data/gatehouse.db',
    })
    .default('sqlite:./data/gatehouse.db'),
  DATA_DIR: z.string().min(1).default('./data'),
  GATEHOUSE_SECRET: z
    .string()
    .min(32, { error: 'must be at least 32 characters, e.g. the output of `openssl rand -base64 48`' })
    .optional(),
  CLIENTS_FILE: z.string().min(1).optional(),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/.+/, { error: 'must be an smtp:// or smtps:// URL, e.g. smtps://user:pass@smtp.example.com:465' })
    .optional(),
  MAIL_FROM: z.string().min(3).optional(),
  ADMIN_EMAIL: z.email({ error: 'must be an email address, e.g. admin@example.com' }).optional(),
  ADMIN_PASSWORD: z.string().min(12, { error: 'must be at least 12 characters' }).optional(),
  TRUST_PROXY: flag,
  ALLOW_PRIVATE_NETWORK_REQUESTS: flag,
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be debug, info, warn, error or silent' }).default('info'),
  ACCESS_TOKEN_TTL: seconds(3600, '3600'),
  ID_TOKEN_TTL: seconds(3600, '3600'),
  REFRESH_TOKEN_TTL: seconds(30 * 24 * 3600, '2592000'),
  SESSION_TTL: seconds(30 * 24 * 3600, '2592000'),
  SESSION_IDLE_TTL: seconds(7 * 24 * 3600, '604800'),
  SIGNING_KEY_ACTIVATION_DELAY: seconds(3600, '3600'),
  SIGNING_KEY_REFRESH_INTERVAL: seconds(60, '60'),
  DEFAULT_RESOURCE: absoluteUrl('https://api.example.com').optional(),
  RESOURCES: z.string().default(''),
  SHUTDOWN_TIMEOUT: seconds(10, '10'),
  KEEP_ALIVE_TIMEOUT: seconds(5, '65'),
  ACCESS_TOKEN_SIGNING_ALG: z.enum(['ES256', 'RS256'], { error: 'must be ES256 or RS256' }).default('ES256'),
  WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)], { error: 'must be a number of processes, e.g. 2, or auto (one per CPU)' })
    .default(1)
    .transform((n) => (n === 'auto' ? availableParallelism() : n)),
  LOGIN_MAX_FAILURES: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 5' }).default(5),
  RATE_LIMIT_PER_IP: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 10' }).default(10),
  RATE_LIMIT_MAIL_PER_ADDRESS: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 5' }).default(5),
  RATE_LIMIT_TOKEN_PER_CLIENT: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 6000' }).default(6000),
  RATE_LIMIT_WINDOW: seconds(60, '60'),
  API_KEYS_PER_USER: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 5' }).default(5),
  JWT_CACHE_SIZE: z.coerce.number(CACHE_SIZE).int(CACHE_SIZE).min(0, CACHE_SIZE).default(10_000),
  PASSWORD_HASH_CONCURRENCY: z.coerce
    .number(HASH_COUNT)
    .int(HASH_COUNT)
    .min(1, HASH_COUNT)
    .max(256, HASH_COUNT)
    .optional()
    .transform((n) => n ?? availableParallelism()),
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive({ error: 'must be a positive whole number, e.g. 50' }).default(50),
  LOGIN_LOCK_WINDOW: seconds(15 * 60, '900'),
  GOOGLE_CLIENT_ID: z.string().min(1).optional(),
  GOOGLE_CLIENT_SECRET: z.string().min(1).optional(),
  GOOGLE_ISSUER: z.url({ error: 'must be an absolute URL, e.g. https://accounts.google.com' }).default('https://accounts.google.com'),
  OIDC_ISSUER: z.url({ error: 'must be an absolute URL, e.g. https://sso.example.com' }).optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  OIDC_NAME: z.string().min(1).max(40).default('single sign-on'),
  GITHUB_CLIENT_ID: z.string().min(1).optional(),
  GITHUB_CLIENT_SECRET: z.string().min(1).optional(),
  GITHUB_URL: z.url({ error: 'must be an absolute URL, e.g. https://github.com' }).default('https://github.com'),
  GITHUB_API_URL: z.url({ error: 'must be an absolute URL, e.g. https://api.github.com' }).default('https://api.github.com'),
});

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/**
 * Validates the environment and reports every problem at once (one line each: the
 * variable, what is wrong, an example), so an operator fixes a config in one pass.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset": docker-compose files commonly pass `VAR=`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const issuer = e.ISSUER ?? `http://localhost:${e.PORT}`;
  const issuerUrl = new URL(issuer);
  if (e.NODE_ENV === 'production') {
    if (issuerUrl.protocol !== 'https:' && !isLoopbackHost(issuerUrl.hostname)) {
      problems.push('ISSUER: must use https in production, e.g. https://login.example.com');
    }
    if (!e.GATEHOUSE_SECRET) {
      problems.push('GATEHOUSE_SECRET: is required in production, e.g. the output of `openssl rand -base64 48`');
    }
  }
  if (issuerUrl.search || issuerUrl.hash) {
    problems.push('ISSUER: must have no query or fragment, e.g. https://login.example.com');
  }
  // Every instance must publish a new key before any instance signs with it.
  if (e.SIGNING_KEY_ACTIVATION_DELAY <= e.SIGNING_KEY_REFRESH_INTERVAL) {
    problems.push('SIGNING_KEY_ACTIVATION_DELAY: must be longer than SIGNING_KEY_REFRESH_INTERVAL, or an instance can sign with a key the others do not publish yet');
  }
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_EMAIL/ADMIN_PASSWORD: set both or neither');
  }
  const upstreams: UpstreamConfig[] = [];
  for (const [id, label, issuerUrl, clientId, clientSecret, names] of [
    ['google', 'Google', e.GOOGLE_ISSUER, e.GOOGLE_CLIENT_ID, e.GOOGLE_CLIENT_SECRET, 'GOOGLE_CLIENT_ID/GOOGLE_CLIENT_SECRET'],
    ['oidc', e.OIDC_NAME, e.OIDC_ISSUER, e.OIDC_CLIENT_ID, e.OIDC_CLIENT_SECRET, 'OIDC_ISSUER/OIDC_CLIENT_ID/OIDC_CLIENT_SECRET'],
  ] as const) {
    const given = [issuerUrl !== undefined && id === 'oidc', clientId !== undefined, clientSecret !== undefined].filter(Boolean).length;
    if (clientId && clientSecret && issuerUrl) upstreams.push(Object.freeze({ id, kind: 'oidc' as const, label, issuer: issuerUrl.replace(/\/$/, ''), clientId, clientSecret }));
    else if (given > 0) problems.push(`${names}: set all of them or none`);
  }
  if (e.GITHUB_CLIENT_ID && e.GITHUB_CLIENT_SECRET) {
    const [issuerUrl, apiUrl] = [e.GITHUB_URL, e.GITHUB_API_URL].map((u) => u.replace(/\/$/, ''));
    upstreams.splice(1, 0, Object.freeze({ id: 'github', kind: 'github' as const, label: 'GitHub', issuer: issuerUrl!, apiUrl, clientId: e.GITHUB_CLIENT_ID, clientSecret: e.GITHUB_CLIENT_SECRET }));
  } else if (e.GITHUB_CLIENT_ID || e.GITHUB_CLIENT_SECRET) problems.push('GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET: set both or neither');
  const resources = e.RESOURCES.split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of resources) {
    if (!URL.canParse(r)) problems.push(`RESOURCES: "${r}" is not an absolute URL, e.g. https://api.example.com`);
  }
  if (problems.length) throw new ConfigError(problems);

  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    issuer,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    secret: e.GATEHOUSE_SECRET,
    clientsFile: e.CLIENTS_FILE,
    mail: Object.freeze({
      smtpUrl: e.SMTP_URL,
      from: e.MAIL_FROM ?? `Gatehouse <no-reply@${issuerUrl.hostname}>`,
      outboxDir: `${e.DATA_DIR}/outbox`,
    }),
    admin: e.ADMIN_EMAIL && e.ADMIN_PASSWORD ? Object.freeze({ email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD }) : undefined,
    trustProxy: e.TRUST_PROXY,
    allowPrivateNetworkRequests: e.ALLOW_PRIVATE_NETWORK_REQUESTS,
    logLevel: e.LOG_LEVEL,
    ttl: Object.freeze({
      accessToken: e.ACCESS_TOKEN_TTL,
      idToken: e.ID_TOKEN_TTL,
      refreshToken: e.REFRESH_TOKEN_TTL,
      session: e.SESSION_TTL,
      sessionIdle: Math.min(e.SESSION_IDLE_TTL, e.SESSION_TTL),
    }),
    signingKeys: Object.freeze({
      activationDelay: e.SIGNING_KEY_ACTIVATION_DELAY,
      refreshInterval: e.SIGNING_KEY_REFRESH_INTERVAL,
    }),
    defaultResource: e.DEFAULT_RESOURCE ?? `${issuer}/api`,
    resources: Object.freeze(resources),
    shutdownTimeout: e.SHUTDOWN_TIMEOUT,
    keepAliveTimeout: e.KEEP_ALIVE_TIMEOUT,
    accessTokenSigningAlg: e.ACCESS_TOKEN_SIGNING_ALG,
    workers: e.WORKERS,
    upstreams: Object.freeze(upstreams),
    apiKeysPerUser: e.API_KEYS_PER_USER,
    jwtCacheSize: e.JWT_CACHE_SIZE,
    passwordHashConcurrency: e.PASSWORD_HASH_CONCURRENCY,
    rateLimits: Object.freeze({
      perIp: e.RATE_LIMIT_PER_IP,
      mailPerAddress: e.RATE_LIMIT_MAIL_PER_ADDRESS,
      tokenPerClient: e.RATE_LIMIT_TOKEN_PER_CLIENT,
      windowSeconds: e.RATE_LIMIT_WINDOW,
    }),
    loginThrottle: Object.freeze({ perAccount: e.LOGIN_MAX_FAILURES, perIp: e.LOGIN_MAX_FAILURES_PER_IP, windowSeconds: e.LOGIN_LOCK_WINDOW }),
  });
}
