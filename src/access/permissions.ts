import type { PermissionLevel, PermissionRecord, Store, UserRecord } from '../store/port.js';
import type { AdminDeps, RequestedBy } from './user-admin.js';

export const PERMISSION_LEVELS = ['read', 'write', 'admin'] as const satisfies readonly PermissionLevel[];

/** The scope under which a tool receives the person's `role` and `permission` claims. */
export const PERMISSIONS_SCOPE = 'permissions';

/**
 * What the user may do in the tool: their grant there, or `admin` for Gatehouse admins
 * (who are implicitly admins of every tool); null when they have no access.
 */
export async function effectivePermission(store: Store, user: UserRecord, toolId: string): Promise<PermissionLevel | null> {
  if (user.role === 'admin') return 'admin';
  return (await store.permissions.find(user.id, toolId))?.level ?? null;
}

/** The lower of two levels: a read-only API key caps whatever its user may do. */
export function capPermission(level: PermissionLevel | null, cap: PermissionLevel): PermissionLevel | null {
  if (level === null) return null;
  return PERMISSION_LEVELS.indexOf(level) <= PERMISSION_LEVELS.indexOf(cap) ? level : cap;
}

/** Grants or changes a level (idempotent: the same level again changes nothing but the time). */
export async function setPermission(deps: AdminDeps, userId: string, toolId: string, level: PermissionLevel, by: RequestedBy): Promise<PermissionRecord> {
  const before = await deps.store.permissions.find(userId, toolId);
  const record = await deps.store.permissions.set(userId, toolId, level);
  if (before?.level !== level) {
    await deps.audit.record(before ? 'permission.changed' : 'permission.granted', {
      ...by,
      target: { type: 'user', id: userId },
      details: { tool: toolId, from: before?.level ?? null, to: level },
    });
  }
  return record;
}

/** Removes the user's permission in the tool; false when there was none. */
export async function revokePermission(deps: AdminDeps, userId: string, toolId: string, by: RequestedBy): Promise<boolean> {
  const revoked = await deps.store.permissions.revoke(userId, toolId);
  if (revoked) await deps.audit.record('permission.revoked', { ...by, target: { type: 'user', id: userId }, details: { tool: toolId } });
  return revoked;
}

export const permissionView = (p: PermissionRecord) => ({
  user_id: p.userId,
  tool: p.toolId,
  level: p.level,
  created_at: new Date(p.createdAt).toISOString(),
  updated_at: new Date(p.updatedAt).toISOString(),
});
