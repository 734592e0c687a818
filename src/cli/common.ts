import { parseArgs, type ParseArgsConfig } from 'node:util';
import { findTool } from '../access/tools.js';
import type { RequestedBy } from '../access/user-admin.js';
import type { ApiRoute, Method } from '../api/api-route.js';
import type { Config } from '../config.js';
import { HttpError } from '../http/errors.js';
import type { AuditLog } from '../security/audit.js';
import type { Secrets } from '../security/secrets.js';
import type { ClientRecord, Store, UserRecord } from '../store/port.js';

/** Wrong or missing arguments: the CLI prints the usage and exits 2. */
export class UsageError extends Error {}

export interface CliContext {
  readonly config: Config;
  readonly store: Store;
  readonly secrets: Secrets;
  readonly audit: AuditLog;
}

/** A command gets its arguments (after the two command words) and returns what to print as JSON. */
export type Command = (args: string[], ctx: CliContext) => Promise<unknown>;

/** Who the audit log says acted: an operator at the CLI, from no address. */
export const CLI_ACTOR: RequestedBy = { actor: { type: 'cli', id: null }, ip: null };

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * The command's flags. An unknown flag, a missing value or a stray positional is a usage
 * error (exit 2); `--no-<flag>` turns a boolean flag off.
 */
export function flags<const O extends FlagOptions>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowNegative: true, strict: true, allowPositionals: false }).values;
  } catch (err) {
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

/** A flag left out is a field not sent: drops the undefined entries, as JSON would. */
export function sent<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * `true`/`false` as booleans, digits as a number; anything else is passed on as the
 * string it is, so the API's schema refuses it with its own message.
 */
export const booleanFlag = (value: string | undefined): unknown => (value === 'true' ? true : value === 'false' ? false : value);
export const integerFlag = (value: string | undefined): unknown => (value !== undefined && /^[+-]?\d+$/.test(value) ? Number(value) : value);

export function exactlyOne(what: string, given: Record<string, unknown>): void {
  const names = Object.keys(given);
  if (names.filter((n) => given[n] !== undefined).length !== 1) {
    throw new UsageError(`${what} needs exactly one of ${names.map((n) => `--${n}`).join(', ')}`);
  }
}

export async function userByEmail(store: Store, email: string): Promise<UserRecord> {
  const user = await store.users.findByEmail(email.trim());
  if (!user) throw new HttpError(404, 'not_found', `user not found: no user has the email ${email}`);
  return user;
}

export async function userById(store: Store, id: string): Promise<UserRecord> {
  const user = await store.users.findById(id);
  if (!user) throw new HttpError(404, 'not_found', `user not found: no user has the id ${id}`);
  return user;
}

/** The user named by `--id` or `--email` (exactly one of them). */
export async function chosenUser(store: Store, command: string, by: { id?: string | undefined; email?: string | undefined }): Promise<UserRecord> {
  exactlyOne(command, { id: by.id, email: by.email });
  return by.id !== undefined ? userById(store, by.id) : userByEmail(store, by.email!);
}

/** A tool as the API finds it (Gatehouse's own account client is none). */
export async function toolById(ctx: CliContext, id: string): Promise<ClientRecord> {
  const tool = await findTool(ctx, id);
  if (!tool) throw new HttpError(404, 'not_found', `tool not found: no tool has the id ${id}`);
  return tool;
}

export function required<T>(value: T | undefined, command: string, flag: string): T {
  if (value === undefined) throw new UsageError(`${command} needs --${flag}`);
  return value;
}

/**
 * Runs one of the API's read-only list routes as the API would, minus the HTTP: its own
 * query schema (a ZodError when the input is wrong), its own paging and response view.
 * Only for routes that read and record nothing, so they need no principal or request.
 */
export async function readThroughRoute(routes: readonly ApiRoute[], method: Method, path: string, query: Record<string, string | undefined>): Promise<unknown> {
  const route = routes.find((r) => r.method === method && r.path === path);
  if (!route?.query) throw new Error(`no ${method.toUpperCase()} ${path} route with a query schema`);
  const parsed = route.query.parse(sent(query));
  const result = await route.handle({ params: undefined, query: parsed, body: undefined, principal: undefined as never, ctx: undefined as never });
  return result.body;
}
