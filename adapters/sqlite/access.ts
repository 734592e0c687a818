import type { Database } from './driver.js';
import type { GroupCommit } from './group-commit.js';
import {
  type ApiKeyRecord,
  type ApiKeyRepository,
  type AuditEvent,
  type AuditRepository,
  type PermissionLevel,
  type PermissionRecord,
  type PermissionRepository,
} from '../../src/store/port.js';
import { unlessTaken } from './errors.js';

/** Who may use which tool: one row per (user, tool); `set` is a single upsert. */
export function sqlitePermissions(db: Database, commits: GroupCommit): PermissionRepository {
  const s = {
    upsert: db.prepare(`INSERT INTO permissions (user_id, tool_id, level, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (user_id, tool_id) DO UPDATE SET level = excluded.level, updated_at = excluded.updated_at RETURNING *`),
    find: db.prepare('SELECT * FROM permissions WHERE user_id = ? AND tool_id = ?'),
    forUser: db.prepare('SELECT * FROM permissions WHERE user_id = ? ORDER BY tool_id'),
    forTool: db.prepare('SELECT * FROM permissions WHERE tool_id = ? ORDER BY user_id'),
    revoke: db.prepare('DELETE FROM permissions WHERE user_id = ? AND tool_id = ?'),
    deleteUser: db.prepare('DELETE FROM permissions WHERE user_id = ?'),
    deleteTool: db.prepare('DELETE FROM permissions WHERE tool_id = ?'),
  };
  return {
    set(userId, toolId, level) {
      const at = Date.now();
      return commits.write(() => toPermission(s.upsert.get(userId, toolId, level, at, at))!);
    },
    find: async (userId, toolId) => toPermission(s.find.get(userId, toolId)),
    listForUser: async (userId) => s.forUser.all(userId).map((r) => toPermission(r)!),
    listForTool: async (toolId) => s.forTool.all(toolId).map((r) => toPermission(r)!),
    revoke: (userId, toolId) => commits.write(() => s.revoke.run(userId, toolId).changes === 1),
    async deleteForUser(userId) {
      await commits.write(() => s.deleteUser.run(userId));
    },
    async deleteForTool(toolId) {
      await commits.write(() => s.deleteTool.run(toolId));
    },
  };
}

/** API keys, found by the keyed hash of the presented key. */
export function sqliteApiKeys(db: Database, commits: GroupCommit): ApiKeyRepository {
  const s = {
    insert: db.prepare(`INSERT INTO api_keys (id, user_id, name, key_hash, prefix, tool_id, read_only, created_at, expires_at, last_used_at, revoked_at)
      VALUES (@id, @userId, @name, @keyHash, @prefix, @toolId, @readOnly, @createdAt, @expiresAt, @lastUsedAt, @revokedAt)`),
    byHash: db.prepare('SELECT * FROM api_keys WHERE key_hash = ?'),
    byId: db.prepare('SELECT * FROM api_keys WHERE id = ?'),
    forUser: db.prepare('SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id'),
    revoke: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    touch: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
    deleteUser: db.prepare('DELETE FROM api_keys WHERE user_id = ?'),
  };
  return {
    async create(key) {
      await commits.write(() => unlessTaken(() => s.insert.run({ ...key, readOnly: +key.readOnly }), `api key ${key.id} exists`));
    },
    findByHash: async (hash) => toApiKey(s.byHash.get(hash)),
    findById: async (id) => toApiKey(s.byId.get(id)),
    listForUser: async (userId) => s.forUser.all(userId).map((r) => toApiKey(r)!),
    revoke: (id, at) => commits.write(() => s.revoke.run(at, id).changes === 1),
    async touch(id, at) {
      await commits.write(() => s.touch.run(at, id));
    },
    async deleteForUser(userId) {
      await commits.write(() => s.deleteUser.run(userId));
    },
  };
}

/** The audit log: append-only rows, read newest first with optional filters. */
export function sqliteAudit(db: Database, commits: GroupCommit): AuditRepository {
  const insert = db.prepare(`INSERT INTO audit_events (id, at, action, actor_type, actor_id, actor_api_key_id, target_type, target_id, ip, details)
    VALUES (@id, @at, @action, @actorType, @actorId, @apiKeyId, @targetType, @targetId, @ip, @details)`);
  return {
    async append(e) {
      const row = {
        id: e.id,
        at: e.at,
        action: e.action,
        actorType: e.actor.type,
        actorId: e.actor.id,
        apiKeyId: e.actor.apiKeyId ?? null,
        targetType: e.target?.type ?? null,
        targetId: e.target?.id ?? null,
        ip: e.ip,
        details: JSON.stringify(e.details),
      };
      await commits.write(() => insert.run(row));
    },
    async list(q) {
      const filters: Array<[string, unknown]> = [
        ['action = ?', q.action],
        ['actor_id = ?', q.actorId],
        ['target_id = ?', q.targetId],
        ['at >= ?', q.since],
        ['at <= ?', q.until],
        ['id < ?', q.before],
      ];
      const used = filters.filter(([, value]) => value !== undefined);
      const where = used.length ? `WHERE ${used.map(([sql]) => sql).join(' AND ')}` : '';
      const rows = db.prepare(`SELECT * FROM audit_events ${where} ORDER BY id DESC LIMIT ?`).all(...used.map(([, v]) => v), q.limit);
      return rows.map(toAuditEvent);
    },
  };
}

interface PermissionRow { user_id: string; tool_id: string; level: PermissionLevel; created_at: number; updated_at: number }
interface ApiKeyRow {
  id: string; user_id: string; name: string; key_hash: string; prefix: string; tool_id: string | null; read_only: number;
  created_at: number; expires_at: number | null; last_used_at: number | null; revoked_at: number | null;
}
interface AuditRow {
  id: string; at: number; action: string; actor_type: AuditEvent['actor']['type']; actor_id: string | null; actor_api_key_id: string | null;
  target_type: string | null; target_id: string | null; ip: string | null; details: string;
}

function toPermission(row: unknown): PermissionRecord | undefined {
  if (!row) return undefined;
  const r = row as PermissionRow;
  return { userId: r.user_id, toolId: r.tool_id, level: r.level, createdAt: r.created_at, updatedAt: r.updated_at };
}

function toApiKey(row: unknown): ApiKeyRecord | undefined {
  if (!row) return undefined;
  const r = row as ApiKeyRow;
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    keyHash: r.key_hash,
    prefix: r.prefix,
    toolId: r.tool_id,
    readOnly: r.read_only === 1,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

function toAuditEvent(row: unknown): AuditEvent {
  const r = row as AuditRow;
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    actor: { type: r.actor_type, id: r.actor_id, ...(r.actor_api_key_id ? { apiKeyId: r.actor_api_key_id } : {}) },
    target: r.target_type && r.target_id ? { type: r.target_type, id: r.target_id } : null,
    ip: r.ip,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}
