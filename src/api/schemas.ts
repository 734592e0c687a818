import { z } from 'zod';
import type { UserRecord } from '../store/port.js';
import { TOOL_TYPES } from '../access/tools.js';
import { PERMISSION_LEVELS } from '../access/permissions.js';

/** Response shapes of the management API; they document the API and check its answers. */
const timestamp = z.iso.datetime();

export const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  email_verified: z.boolean(),
  name: z.string().nullable(),
  role: z.enum(['admin', 'viewer']),
  status: z.enum(['active', 'disabled']),
  created_at: timestamp,
  updated_at: timestamp,
});

export const userView = (u: UserRecord): z.infer<typeof userSchema> => ({
  id: u.id,
  email: u.email,
  email_verified: u.emailVerified,
  name: u.name,
  role: u.role,
  status: u.status,
  created_at: new Date(u.createdAt).toISOString(),
  updated_at: new Date(u.updatedAt).toISOString(),
});

export const permissionSchema = z.object({
  user_id: z.string(),
  tool: z.string(),
  level: z.enum(PERMISSION_LEVELS),
  created_at: timestamp,
  updated_at: timestamp,
});

export const toolSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(TOOL_TYPES),
  home_url: z.string().nullable(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  auth_method: z.string(),
  restricted: z.boolean(),
  require_mfa: z.boolean(),
  scope: z.string().nullable(),
  backchannel_logout_uri: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

export const apiKeySchema = z.object({
  id: z.string(),
  user_id: z.string(),
  name: z.string(),
  prefix: z.string(),
  tool: z.string().nullable(),
  read_only: z.boolean(),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
  expires_at: timestamp.nullable(),
  revoked_at: timestamp.nullable(),
});

export const auditEventSchema = z.object({
  id: z.string(),
  at: timestamp,
  action: z.string(),
  actor: z.object({ type: z.enum(['user', 'client', 'cli', 'anonymous']), id: z.string().nullable(), api_key_id: z.string().optional() }),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

/** A page of a list: `next_cursor` goes back as `cursor` for the next page; null on the last. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Items per page (1–200).'),
  cursor: z.string().max(300).optional().describe('next_cursor of the previous page.'),
};

/** The `next_cursor` of a page fetched with one extra item: that item's existence says there is more. */
export function paginate<T>(items: T[], limit: number, cursorOf: (last: T) => string) {
  const data = items.slice(0, limit);
  return { data, next_cursor: items.length > limit ? cursorOf(data[data.length - 1]!) : null };
}
