import { permissionView } from '../access/permissions.js';
import { deleteManagedUser, updateManagedUser, userChangesSchema } from '../access/user-admin.js';
import { userView } from '../api/schemas.js';
import { userRoutes } from '../api/users-routes.js';
import { booleanFlag, chosenUser, CLI_ACTOR, flags, readThroughRoute, sent, type Command } from './common.js';

const who = { id: { type: 'string' }, email: { type: 'string' } } as const;

/** `users disable` / `users enable`: what POST /api/users/:id/disable|enable does. */
const setStatus =
  (status: 'active' | 'disabled'): Command =>
  async (args, ctx) => {
    const values = flags(args, who);
    const user = await chosenUser(ctx.store, `users ${status === 'active' ? 'enable' : 'disable'}`, values);
    return userView(await updateManagedUser(ctx, user, { status }, CLI_ACTOR));
  };

/** User management, as the API's /api/users routes do it. */
export const userCommands: Record<string, Command> = {
  'users list': async (args, ctx) => {
    const values = flags(args, {
      email: { type: 'string' },
      role: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    });
    return readThroughRoute(userRoutes(ctx), 'get', '/api/users', values);
  },
  'users get': async (args, ctx) => {
    const user = await chosenUser(ctx.store, 'users get', flags(args, who));
    return { ...userView(user), permissions: (await ctx.store.permissions.listForUser(user.id)).map(permissionView) };
  },
  'users update': async (args, ctx) => {
    const values = flags(args, {
      ...who,
      name: { type: 'string' },
      'new-email': { type: 'string' },
      role: { type: 'string' },
      status: { type: 'string' },
      password: { type: 'string' },
      'email-verified': { type: 'string' },
    });
    const user = await chosenUser(ctx.store, 'users update', values);
    const changes = userChangesSchema.parse(
      sent({
        name: values.name,
        email: values['new-email'],
        role: values.role,
        status: values.status,
        password: values.password,
        email_verified: booleanFlag(values['email-verified']),
      }),
    );
    return userView(await updateManagedUser(ctx, user, changes, CLI_ACTOR));
  },
  'users disable': setStatus('disabled'),
  'users enable': setStatus('active'),
  'users delete': async (args, ctx) => {
    const user = await chosenUser(ctx.store, 'users delete', flags(args, who));
    await deleteManagedUser(ctx, user, CLI_ACTOR);
    return { id: user.id, email: user.email, deleted: true };
  },
};
