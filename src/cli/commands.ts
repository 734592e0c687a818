import { ZodError } from 'zod';
import { registerClient } from '../access/clients.js';
import { createManagedUser, newManagedUserSchema } from '../access/user-admin.js';
import { userView } from '../api/schemas.js';
import { apiKeyCommands } from './api-keys.js';
import { auditCommands } from './audit.js';
import { CLI_ACTOR, flags, UsageError, type Command } from './common.js';
import { permissionCommands } from './permissions.js';
import { toolCommands } from './tools.js';
import { userCommands } from './users.js';
import { ConfigError, loadConfig } from '../config.js';
import { HttpError } from '../http/errors.js';
import { createLogger } from '../logger.js';
import { maxSignedTokenLifetime } from '../oidc/provider.js';
import { ensureSigningKeys, keyStates, rotateSigningKeys } from '../oidc/signing-keys.js';
import { AuditLog } from '../security/audit.js';
import { resolveRootSecret, Secrets } from '../security/secrets.js';
import { openStore } from '../store/open-store.js';
import { AlreadyExistsError } from '../store/port.js';

const USAGE = `usage: gatehouse <command>
  serve                                       run the server (what npm start runs)
  users create --email E [--password P] [--name N] [--admin]
  users list [--email PART] [--role admin|viewer] [--status active|disabled] [--limit N] [--cursor C]
  users get (--id ID | --email E)
  users update (--id ID | --email E) [--name N] [--new-email E] [--role admin|viewer]
               [--status active|disabled] [--password P] [--email-verified true|false]
  users disable|enable|delete (--id ID | --email E)
  tools list
  tools get --id ID
  tools create --id ID --name N [--type web|spa|native|machine] [TOOL FIELDS]   prints client_secret once
  tools update --id ID [--name N] [TOOL FIELDS]
      TOOL FIELDS: [--home-url U] [--redirect-uri U]... [--post-logout-redirect-uri U]...
                   [--auth-method client_secret_basic|client_secret_post|private_key_jwt] [--jwks-uri U]
                   [--[no-]restricted] [--[no-]require-mfa] [--backchannel-logout-uri U] [--scope S]
  tools rotate-secret --id ID                 prints the new client_secret once
  tools delete --id ID
  permissions list (--user EMAIL | --tool ID)
  permissions set --user EMAIL --tool ID --level read|write|admin
  permissions revoke --user EMAIL --tool ID
  api-keys create --user EMAIL --name N [--tool ID] [--read-only] [--expires-in-days N]
                                              prints the key once
  api-keys list --user EMAIL
  api-keys revoke --id ID
  audit list [--action A] [--actor-id ID] [--target-id ID] [--since ISO] [--until ISO] [--limit N] [--cursor C]
  clients create --name N [--id ID] [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
                 [--grant-type T]... [--public] [--native] [--scope S] [--require-mfa]
  signing-keys list
  signing-keys rotate
Reads the same environment as the server; prints JSON on stdout.`;

const commands: Record<string, Command> = {
  // The same rules as POST /api/users (password policy, audit); the password is optional
  // here too, for people who will sign in by magic link, upstream or a reset.
  'users create': async (args, ctx) => {
    const values = flags(args, { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean' } });
    if (!values.email) throw new UsageError('users create needs --email');
    const input = newManagedUserSchema.parse({ email: values.email, password: values.password, name: values.name, role: values.admin ? 'admin' : 'viewer' });
    return userView(await createManagedUser(ctx, input, CLI_ACTOR));
  },
  'clients create': async (args, { store, secrets }) => {
    const values = flags(args, {
      name: { type: 'string' },
      id: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      native: { type: 'boolean' },
      scope: { type: 'string' },
      'require-mfa': { type: 'boolean' },
    });
    if (!values.name) throw new UsageError('clients create needs --name');
    return registerClient(store, secrets, {
      client_id: values.id,
      client_name: values.name,
      redirect_uris: values['redirect-uri'] ?? [],
      post_logout_redirect_uris: values['post-logout-redirect-uri'] ?? [],
      grant_types: values['grant-type'] as never,
      public: values.public ?? false,
      application_type: values.native ? 'native' : 'web',
      scope: values.scope,
      require_mfa: values['require-mfa'] ?? false,
    });
  },
  'signing-keys list': async (_args, { store, secrets }) => {
    await ensureSigningKeys(store, secrets);
    const keys = await store.signingKeys.list();
    const states = keyStates(keys, Date.now());
    return keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      state: states.get(k.kid),
      created_at: new Date(k.createdAt).toISOString(),
      activates_at: new Date(k.activatesAt).toISOString(),
      retires_at: k.retiresAt === null ? null : new Date(k.retiresAt).toISOString(),
    }));
  },
  'signing-keys rotate': async (_args, { config, store, secrets }) => {
    await ensureSigningKeys(store, secrets);
    const created = await rotateSigningKeys(store, secrets, {
      activationDelay: config.signingKeys.activationDelay,
      maxTokenLifetime: maxSignedTokenLifetime(config),
    });
    return created.map((k) => ({ kid: k.kid, alg: k.alg, activates_at: new Date(k.activatesAt).toISOString() }));
  },
  ...userCommands,
  ...toolCommands,
  ...permissionCommands,
  ...apiKeyCommands,
  ...auditCommands,
};

async function run(argv: string[]): Promise<number> {
  const name = argv.slice(0, 2).join(' ');
  const command = commands[name];
  if (!command) throw new UsageError(argv[0] === 'help' || argv[0] === '--help' ? '' : `unknown command: ${name}`);
  const config = loadConfig(process.env);
  // stdout carries the command's JSON; anything logged goes to stderr.
  const logger = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn', {}, (line) => process.stderr.write(line));
  const secrets = new Secrets(resolveRootSecret(config, logger));
  const store = await openStore(config.databaseUrl);
  const audit = new AuditLog(store, logger);
  try {
    process.stdout.write(`${JSON.stringify(await command(argv.slice(2), { config, store, secrets, audit }), null, 2)}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

/** Runs one management command (`users create`, …), printing its JSON, and sets the exit code. */
export function runCommand(argv: string[]): Promise<void> {
  return run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        if (err.message) process.stderr.write(`error: ${err.message}\n`);
        process.stderr.write(`${USAGE}\n`);
        process.exitCode = 2;
      } else if (err instanceof ConfigError) {
        for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
        process.exitCode = 1;
      } else if (err instanceof ZodError) {
        for (const issue of err.issues) process.stderr.write(`error: ${issue.path.join('.') || 'input'}: ${issue.message}\n`);
        process.exitCode = 1;
      } else if (err instanceof HttpError) {
        // What the API would answer as error_description (404s say "… not found: …").
        process.stderr.write(`error: ${err.description}\n`);
        process.exitCode = 1;
      } else if (err instanceof AlreadyExistsError) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exitCode = 1;
      } else {
        process.stderr.write(`error: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    },
  );
}
