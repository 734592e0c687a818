import { createTool, deleteTool, listTools, newToolSchema, rotateToolSecret, toolChangesSchema, toolView, updateTool } from '../access/tools.js';
import { CLI_ACTOR, flags, required, sent, toolById, UsageError, type Command } from './common.js';

/** The fields a tool is registered or changed with, as flags. */
const toolFlags = {
  name: { type: 'string' },
  'home-url': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  'auth-method': { type: 'string' },
  'jwks-uri': { type: 'string' },
  restricted: { type: 'boolean' },
  'require-mfa': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  scope: { type: 'string' },
} as const;

type ToolFlagValues = ReturnType<typeof flags<typeof toolFlags>>;

/** Flags in the API's field names; the ones not given are not sent. */
const toolFields = (v: ToolFlagValues) =>
  sent({
    name: v.name,
    home_url: v['home-url'],
    redirect_uris: v['redirect-uri'],
    post_logout_redirect_uris: v['post-logout-redirect-uri'],
    auth_method: v['auth-method'],
    jwks_uri: v['jwks-uri'],
    restricted: v.restricted,
    require_mfa: v['require-mfa'],
    backchannel_logout_uri: v['backchannel-logout-uri'],
    scope: v.scope,
  });

/** Tools (registered OIDC clients), as the API's /api/tools routes manage them. */
export const toolCommands: Record<string, Command> = {
  'tools list': async (_args, ctx) => ({ data: (await listTools(ctx)).map(toolView) }),
  'tools get': async (args, ctx) => {
    const { id } = flags(args, { id: { type: 'string' } });
    return toolView(await toolById(ctx, required(id, 'tools get', 'id')));
  },
  'tools create': async (args, ctx) => {
    const values = flags(args, { id: { type: 'string' }, type: { type: 'string' }, ...toolFlags });
    const tool = newToolSchema.parse({ ...sent({ id: values.id, type: values.type }), ...toolFields(values) });
    const { record, secret } = await createTool(ctx, tool, CLI_ACTOR);
    return { ...toolView(record), ...(secret ? { client_secret: secret } : {}) };
  },
  'tools update': async (args, ctx) => {
    const values = flags(args, { id: { type: 'string' }, ...toolFlags });
    const record = await toolById(ctx, required(values.id, 'tools update', 'id'));
    const given = toolFields(values);
    if (!Object.keys(given).length) throw new UsageError('tools update needs at least one field to change');
    // toolChangesSchema fills in its fields' defaults (empty redirect URIs, restricted and
    // require_mfa false) for fields not sent, which would wipe them: keep only what was given.
    const parsed = toolChangesSchema.parse(given);
    const changes = Object.fromEntries(Object.entries(parsed).filter(([field]) => field in given)) as typeof parsed;
    const updated = await updateTool(ctx, record, changes, CLI_ACTOR);
    return { ...toolView(updated.record), ...(updated.secret ? { client_secret: updated.secret } : {}) };
  },
  'tools rotate-secret': async (args, ctx) => {
    const { id } = flags(args, { id: { type: 'string' } });
    const record = await toolById(ctx, required(id, 'tools rotate-secret', 'id'));
    return { client_secret: await rotateToolSecret(ctx, record, CLI_ACTOR) };
  },
  'tools delete': async (args, ctx) => {
    const { id } = flags(args, { id: { type: 'string' } });
    const record = await toolById(ctx, required(id, 'tools delete', 'id'));
    await deleteTool(ctx, record, CLI_ACTOR);
    return { id: record.clientId, deleted: true };
  },
};
