import { apiKeyInputSchema, apiKeyView, createApiKey, revokeApiKey } from '../access/api-keys.js';
import { HttpError } from '../http/errors.js';
import { CLI_ACTOR, flags, integerFlag, required, sent, userByEmail, type Command, type CliContext } from './common.js';

const keyDeps = (ctx: CliContext) => ({ ...ctx, keysPerUser: ctx.config.apiKeysPerUser });

/** API keys of any user, as an administrator manages them through /api/keys. */
export const apiKeyCommands: Record<string, Command> = {
  'api-keys create': async (args, ctx) => {
    const values = flags(args, {
      user: { type: 'string' },
      name: { type: 'string' },
      tool: { type: 'string' },
      'read-only': { type: 'boolean' },
      'expires-in-days': { type: 'string' },
    });
    const email = required(values.user, 'api-keys create', 'user');
    const input = apiKeyInputSchema.parse(
      sent({ name: required(values.name, 'api-keys create', 'name'), tool: values.tool, read_only: values['read-only'], expires_in_days: integerFlag(values['expires-in-days']) }),
    );
    const user = await userByEmail(ctx.store, email);
    const { key, record } = await createApiKey(keyDeps(ctx), user, input, CLI_ACTOR);
    // The only time the key is shown: only its keyed hash is stored.
    return { key, ...apiKeyView(record) };
  },
  'api-keys list': async (args, ctx) => {
    const { user: email } = flags(args, { user: { type: 'string' } });
    const user = await userByEmail(ctx.store, required(email, 'api-keys list', 'user'));
    return { data: (await ctx.store.apiKeys.listForUser(user.id)).map(apiKeyView) };
  },
  'api-keys revoke': async (args, ctx) => {
    const { id } = flags(args, { id: { type: 'string' } });
    const key = await ctx.store.apiKeys.findById(required(id, 'api-keys revoke', 'id'));
    if (!key) throw new HttpError(404, 'not_found', `API key not found: no API key has the id ${id}`);
    // Revoking a revoked key changes nothing (and records nothing), as DELETE /api/keys/:id.
    await revokeApiKey(ctx, key, CLI_ACTOR);
    return apiKeyView((await ctx.store.apiKeys.findById(key.id)) ?? key);
  },
};
