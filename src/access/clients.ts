import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Secrets } from '../security/secrets.js';
import type { ClientRecord, Store } from '../store/port.js';

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
const SECRET_AUTH_METHODS: Array<'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'> = ['client_secret_basic', 'client_secret_post'];

const isLoopback = (u: URL) => ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);

/**
 * A redirect URI is compared exactly at runtime; here we refuse the ones no client
 * should register: fragments (RFC 6749 §3.1.2), userinfo, and plain http other than
 * loopback (native apps, RFC 8252 §7.3) or localhost development.
 */
const registeredUri = z.url({ error: 'must be an absolute URL' }).superRefine((value, ctx) => {
  if (!URL.canParse(value)) return; // already reported by z.url()
  const u = new URL(value);
  if (u.hash || value.includes('#')) ctx.addIssue({ code: 'custom', message: `${value}: must not contain a fragment` });
  if (u.username || u.password) ctx.addIssue({ code: 'custom', message: `${value}: must not contain userinfo` });
  if (u.protocol === 'http:' && !isLoopback(u)) ctx.addIssue({ code: 'custom', message: `${value}: http is only allowed for loopback addresses` });
});

export const clientInputSchema = z
  .object({
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{3,128}$/, { error: 'must be 3–128 characters of A–Z a–z 0–9 . _ ~ -' })
      .optional(),
    client_name: z.string().trim().min(1).max(200),
    /** The tool's home page, shown to people (OIDC `client_uri`). */
    client_uri: z.url({ error: 'must be an absolute URL' }).max(2000).optional(),
    redirect_uris: z.array(registeredUri).default([]),
    post_logout_redirect_uris: z.array(registeredUri).default([]),
    grant_types: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']),
    /** A public client (SPA, CLI, native app) has no secret and relies on PKCE. */
    public: z.boolean().default(false),
    application_type: z.enum(['web', 'native']).default('web'),
    scope: z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/).optional(),
    id_token_signed_response_alg: z.enum(['ES256', 'RS256']).optional(),
    /** OIDC Back-Channel Logout: where the tool is told, server to server, that a session ended. */
    backchannel_logout_uri: registeredUri.optional(),
    backchannel_logout_session_required: z.boolean().default(true),
    /** Every sign-in to this tool must use a second factor (people without one enrol first). */
    require_mfa: z.boolean().default(false),
    /** Only people with a permission for this tool may sign in to it. */
    restricted: z.boolean().default(false),
    /** How a confidential client authenticates at the token endpoint. */
    token_endpoint_auth_method: z.enum(SECRET_AUTH_METHODS.concat('private_key_jwt')).optional(),
    /** For private_key_jwt: where the client publishes its public keys, or the keys themselves. */
    jwks_uri: z.url({ error: 'must be an absolute URL' }).startsWith('https:', { error: 'must be an https URL' }).optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) }).optional(),
    /** Only for clients seeded from CLIENTS_FILE, where the team manages the secret. */
    client_secret: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'the authorization_code grant needs at least one redirect URI' });
    }
    if (c.public && c.grant_types.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'a public client cannot use client_credentials' });
    }
    if (c.public && c.client_secret) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'a public client has no secret' });
    }
    if (c.public && c.token_endpoint_auth_method) {
      ctx.addIssue({ code: 'custom', path: ['token_endpoint_auth_method'], message: 'a public client does not authenticate' });
    }
    const keyAuth = c.token_endpoint_auth_method === 'private_key_jwt';
    if (keyAuth && !c.jwks && !c.jwks_uri) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'private_key_jwt needs jwks or jwks_uri' });
    if (keyAuth && c.client_secret) ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'a private_key_jwt client has no secret' });
    if (c.jwks && c.jwks_uri) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'give jwks or jwks_uri, not both' });
  });
export type ClientInput = z.input<typeof clientInputSchema>;

export interface RegisteredClient {
  client_id: string;
  /** Present once, at creation; stored encrypted, never shown again. */
  client_secret?: string;
  [metadata: string]: unknown;
}

const secretContext = (clientId: string) => `client-secret:${clientId}`;

const usesSecret = (c: ClientSettings) => !c.public && c.token_endpoint_auth_method !== 'private_key_jwt';
type ClientSettings = z.output<typeof clientInputSchema>;

/**
 * Creates or replaces a client. A client authenticating by secret gets a fresh 256-bit
 * one (returned once) unless one is given, or unless `keepSecret` is set and it has one:
 * editing a tool must not break its deployed secret.
 */
export async function registerClient(store: Store, secrets: Secrets, input: ClientInput, options: { keepSecret?: boolean } = {}): Promise<RegisteredClient> {
  const c = clientInputSchema.parse(input);
  const clientId = c.client_id ?? randomBytes(16).toString('base64url');
  const metadata: Record<string, unknown> = {
    client_name: c.client_name,
    application_type: c.application_type,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris,
    grant_types: c.grant_types,
    response_types: c.grant_types.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: c.public ? 'none' : (c.token_endpoint_auth_method ?? 'client_secret_basic'),
    require_mfa: c.require_mfa,
    restricted: c.restricted,
    ...(c.client_uri ? { client_uri: c.client_uri } : {}),
    ...(c.jwks ? { jwks: c.jwks } : {}),
    ...(c.jwks_uri ? { jwks_uri: c.jwks_uri } : {}),
    ...(c.scope ? { scope: c.scope } : {}),
    ...(c.id_token_signed_response_alg ? { id_token_signed_response_alg: c.id_token_signed_response_alg } : {}),
    ...(c.backchannel_logout_uri
      ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: c.backchannel_logout_session_required }
      : {}),
  };
  const kept = options.keepSecret && usesSecret(c) && !c.client_secret ? (await store.clients.find(clientId))?.secretCiphertext : null;
  const secret = kept || !usesSecret(c) ? undefined : (c.client_secret ?? randomBytes(32).toString('base64url'));
  await store.clients.upsert({
    clientId,
    metadata,
    secretCiphertext: kept ?? (secret ? secrets.encrypt(secret, secretContext(clientId)) : null),
  });
  return { client_id: clientId, ...(secret && !c.client_secret ? { client_secret: secret } : {}), ...metadata };
}

/**
 * The client as oidc-provider wants it: metadata plus the decrypted secret. Kept per
 * record object, so while the store's client cache hands out the same record the secret
 * is not decrypted again on every request.
 */
export async function findProviderClient(store: Store, secrets: Secrets, clientId: string): Promise<Record<string, unknown> | undefined> {
  const record = await store.clients.find(clientId);
  if (!record) return undefined;
  let client = providerClients.get(record);
  if (!client) {
    client = {
      ...record.metadata,
      client_id: record.clientId,
      ...(record.secretCiphertext ? { client_secret: secrets.decrypt(record.secretCiphertext, secretContext(record.clientId)) } : {}),
    };
    providerClients.set(record, client);
  }
  return client;
}

const providerClients = new WeakMap<ClientRecord, Record<string, unknown>>();

const clientsFileSchema = z.array(clientInputSchema.and(z.object({ client_id: z.string() })));

/**
 * Registers every client in a JSON file (an array of client inputs, each with a
 * client_id) so teams can keep tool registrations in git. Idempotent: re-running
 * replaces each client with the file's version.
 */
export async function seedClientsFromFile(store: Store, secrets: Secrets, path: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`CLIENTS_FILE: cannot read ${path} as JSON (${(err as Error).message})`);
  }
  const parsed = clientsFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`CLIENTS_FILE: ${parsed.error.issues.map((i) => `[${i.path.join('.')}] ${i.message}`).join('; ')}`);
  }
  const ids: string[] = [];
  for (const input of parsed.data) {
    if (usesSecret(input) && !input.client_secret) throw new Error(`CLIENTS_FILE: client ${input.client_id} is confidential and needs a client_secret`);
    ids.push((await registerClient(store, secrets, input)).client_id);
  }
  return ids;
}
