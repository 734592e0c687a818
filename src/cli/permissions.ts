import { z } from 'zod';
import { PERMISSION_LEVELS, permissionView, revokePermission, setPermission } from '../access/permissions.js';
import { HttpError } from '../http/errors.js';
import { CLI_ACTOR, exactlyOne, flags, required, toolById, userByEmail, type Command } from './common.js';

/** What PUT /api/users/:id/permissions/:tool accepts. */
const levelSchema = z.object({ level: z.enum(PERMISSION_LEVELS) }).strict();

const pair = { user: { type: 'string' }, tool: { type: 'string' } } as const;

/** A user's permission in a tool, as the API's permission routes manage it. */
export const permissionCommands: Record<string, Command> = {
  'permissions list': async (args, ctx) => {
    const values = flags(args, pair);
    exactlyOne('permissions list', { user: values.user, tool: values.tool });
    const records = values.user !== undefined
      ? await ctx.store.permissions.listForUser((await userByEmail(ctx.store, values.user)).id)
      : await ctx.store.permissions.listForTool((await toolById(ctx, values.tool!)).clientId);
    return { data: records.map(permissionView) };
  },
  'permissions set': async (args, ctx) => {
    const values = flags(args, { ...pair, level: { type: 'string' } });
    const email = required(values.user, 'permissions set', 'user');
    const toolId = required(values.tool, 'permissions set', 'tool');
    const { level } = levelSchema.parse({ level: required(values.level, 'permissions set', 'level') });
    const user = await userByEmail(ctx.store, email);
    const tool = await toolById(ctx, toolId);
    return permissionView(await setPermission(ctx, user.id, tool.clientId, level, CLI_ACTOR));
  },
  'permissions revoke': async (args, ctx) => {
    const values = flags(args, pair);
    const user = await userByEmail(ctx.store, required(values.user, 'permissions revoke', 'user'));
    const toolId = required(values.tool, 'permissions revoke', 'tool');
    if (!(await revokePermission(ctx, user.id, toolId, CLI_ACTOR))) {
      throw new HttpError(404, 'not_found', `permission not found: ${user.email} has no permission in ${toolId}`);
    }
    return { user_id: user.id, tool: toolId, revoked: true };
  },
};
