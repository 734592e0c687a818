import { z } from 'zod';
import { ACCOUNT_CLIENT_ID } from '../accounts/account-client.js';
import { HttpError } from '../http/errors.js';
import type { Secrets } from '../security/secrets.js';
import type { ClientRecord } from '../store/port.js';
import { clientInputSchema, registerClient, type ClientInput, type RegisteredClient } from './clients.js';
import type { AdminDeps, RequestedBy } from './user-admin.js';

/**
 * What kind of tool it is decides how it signs people in:
 * - `web`: a server-side app with a secret (or private_key_jwt), code + PKCE;
 * - `spa` / `native`: a public client with PKCE only (native may use loopback redirects);
 * - `machine`: no people, client_credentials only.
 */
export const TOOL_TYPES = ['web', 'spa', 'native', 'machine'] as const;
export type ToolType = (typeof TOOL_TYPES)[number];

const fields = clientInputSchema.shape;

/** What describes a tool, without defaults: an update must change only what it names. */
const toolFields = {
  name: fields.client_name,
  home_url: fields.client_uri,
  redirect_uris: z.array(z.string()).max(50),
  post_logout_redirect_uris: z.array(z.string()).max(50),
  auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
  jwks_uri: fields.jwks_uri,
  jwks: fields.jwks,
  restricted: z.boolean(),
  require_mfa: z.boolean(),
  backchannel_logout_uri: z.string().optional(),
  scope: fields.scope,
};

export const newToolSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, { error: 'must be 2–63 characters of a–z 0–9 . _ -, starting with a letter or digit' }),
    type: z.enum(TOOL_TYPES).default('web'),
    ...toolFields,
    redirect_uris: toolFields.redirect_uris.default([]),
    post_logout_redirect_uris: toolFields.post_logout_redirect_uris.default([]),
    restricted: toolFields.restricted.default(false),
    require_mfa: toolFields.require_mfa.default(false),
  })
  .strict();
export type NewTool = z.output<typeof newToolSchema>;

/** An update names only what changes; the id and type stay. */
export const toolChangesSchema = z
  .object(toolFields)
  .partial()
  .strict()
  .refine((c) => Object.keys(c).length > 0, { error: 'send at least one field to change' });

/** The tool as the API shows it (never its secret). */
export function toolView(record: ClientRecord) {
  const m = record.metadata;
  return {
    id: record.clientId,
    name: String(m.client_name ?? record.clientId),
    type: toolType(m),
    home_url: typeof m.client_uri === 'string' ? m.client_uri : null,
    redirect_uris: (m.redirect_uris as string[] | undefined) ?? [],
    post_logout_redirect_uris: (m.post_logout_redirect_uris as string[] | undefined) ?? [],
    grant_types: (m.grant_types as string[] | undefined) ?? [],
    auth_method: String(m.token_endpoint_auth_method ?? 'none'),
    restricted: m.restricted === true,
    require_mfa: m.require_mfa === true,
    scope: typeof m.scope === 'string' ? m.scope : null,
    backchannel_logout_uri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
    created_at: new Date(record.createdAt).toISOString(),
    updated_at: new Date(record.updatedAt).toISOString(),
  };
}
export type ToolView = ReturnType<typeof toolView>;

function toolType(m: Record<string, unknown>): ToolType {
  const grants = (m.grant_types as string[] | undefined) ?? [];
  if (!grants.includes('authorization_code')) return 'machine';
  if (m.token_endpoint_auth_method !== 'none') return 'web';
  return m.application_type === 'native' ? 'native' : 'spa';
}

/** The tool in oidc-provider client terms. */
function clientInput(id: string, type: ToolType, t: Omit<NewTool, 'id' | 'type'>): ClientInput {
  const isPublic = type === 'spa' || type === 'native';
  return {
    client_id: id,
    client_name: t.name,
    client_uri: t.home_url,
    redirect_uris: t.redirect_uris,
    post_logout_redirect_uris: t.post_logout_redirect_uris,
    grant_types: type === 'machine' ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    public: isPublic,
    application_type: type === 'native' ? 'native' : 'web',
    token_endpoint_auth_method: isPublic ? undefined : t.auth_method,
    jwks_uri: t.jwks_uri,
    jwks: t.jwks,
    restricted: t.restricted,
    require_mfa: t.require_mfa,
    backchannel_logout_uri: t.backchannel_logout_uri,
    scope: t.scope,
  };
}

/** Zod errors from the client rules become 400s naming the tool's field. */
async function saveClient(deps: ToolDeps, input: ClientInput, keepSecret: boolean): Promise<RegisteredClient> {
  const parsed = clientInputSchema.safeParse(input);
  if (!parsed.success) {
    const rename: Record<string, string> = { client_name: 'name', client_uri: 'home_url', token_endpoint_auth_method: 'auth_method', grant_types: 'type' };
    const described = parsed.error.issues.map((i) => `${rename[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('; ');
    throw new HttpError(400, 'invalid_request', described);
  }
  return registerClient(deps.store, deps.secrets, input, { keepSecret });
}

export interface ToolDeps extends AdminDeps {
  readonly secrets: Secrets;
}

/** Gatehouse's own account client is not a tool anyone may edit or delete. */
export async function findTool(deps: ToolDeps, id: string): Promise<ClientRecord | undefined> {
  return id === ACCOUNT_CLIENT_ID ? undefined : deps.store.clients.find(id);
}

export async function listTools(deps: ToolDeps): Promise<ClientRecord[]> {
  return (await deps.store.clients.list()).filter((c) => c.clientId !== ACCOUNT_CLIENT_ID);
}

/** Registers a tool; the secret, when it has one, is in the result and never again. 409 when the id is taken. */
export async function createTool(deps: ToolDeps, tool: NewTool, by: RequestedBy): Promise<{ record: ClientRecord; secret?: string }> {
  if (tool.id === ACCOUNT_CLIENT_ID || (await deps.store.clients.find(tool.id))) throw new HttpError(409, 'conflict', `A tool with the id ${tool.id} exists.`);
  const { id, type, ...rest } = tool;
  const registered = await saveClient(deps, clientInput(id, type, rest), false);
  await deps.audit.record('tool.created', { ...by, target: { type: 'tool', id }, details: { type } });
  return { record: (await deps.store.clients.find(id))!, secret: registered.client_secret };
}

/** Changes a tool; its secret stays unless it newly needs one (then it is returned once). */
export async function updateTool(deps: ToolDeps, record: ClientRecord, changes: z.output<typeof toolChangesSchema>, by: RequestedBy) {
  const current = toolView(record);
  const merged = {
    name: current.name,
    home_url: current.home_url ?? undefined,
    redirect_uris: current.redirect_uris,
    post_logout_redirect_uris: current.post_logout_redirect_uris,
    auth_method: current.type === 'web' || current.type === 'machine' ? (current.auth_method as NewTool['auth_method']) : undefined,
    jwks_uri: record.metadata.jwks_uri as string | undefined,
    jwks: record.metadata.jwks as NewTool['jwks'],
    restricted: current.restricted,
    require_mfa: current.require_mfa,
    backchannel_logout_uri: current.backchannel_logout_uri ?? undefined,
    scope: current.scope ?? undefined,
    ...changes,
  };
  if (merged.auth_method !== 'private_key_jwt' && !('jwks' in changes) && !('jwks_uri' in changes)) {
    merged.jwks = undefined;
    merged.jwks_uri = undefined;
  }
  const registered = await saveClient(deps, clientInput(record.clientId, current.type, merged), true);
  await deps.audit.record('tool.updated', { ...by, target: { type: 'tool', id: record.clientId }, details: { fields: Object.keys(changes) } });
  return { record: (await deps.store.clients.find(record.clientId))!, secret: registered.client_secret };
}

/** A new secret for a tool that authenticates by one; the old one stops working at once. */
export async function rotateToolSecret(deps: ToolDeps, record: ClientRecord, by: RequestedBy): Promise<string> {
  const method = record.metadata.token_endpoint_auth_method;
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    throw new HttpError(409, 'conflict', 'This tool does not authenticate with a secret.');
  }
  const secret = (await registerClient(deps.store, deps.secrets, fromMetadata(record))).client_secret!;
  await deps.audit.record('tool.secret_rotated', { ...by, target: { type: 'tool', id: record.clientId } });
  return secret;
}

/** Re-reads a stored client as client input (the stored form is what the schema produced). */
function fromMetadata(record: ClientRecord): ClientInput {
  const { response_types: _derived, token_endpoint_auth_method: method, ...rest } = record.metadata;
  return { ...(rest as ClientInput), client_id: record.clientId, public: method === 'none', ...(method === 'none' ? {} : { token_endpoint_auth_method: method as ClientInput['token_endpoint_auth_method'] }) };
}

/** Deletes a tool and every permission for it; tokens already issued to it stop working with it. */
export async function deleteTool(deps: ToolDeps, record: ClientRecord, by: RequestedBy): Promise<void> {
  await deps.store.permissions.deleteForTool(record.clientId);
  await deps.store.clients.delete(record.clientId);
  await deps.audit.record('tool.deleted', { ...by, target: { type: 'tool', id: record.clientId } });
}
