// Dashboard sessions on the SQLite file: the store's part of admin/sessions.ts.
import type { DatabaseSync } from 'node:sqlite'
import type { GroupCommit } from './group-commit.ts'
import type { AdminRole, AdminSessionRow, AdminSessionStore } from './types.ts'

const COLUMNS = 'id, secret_hash, role, token_tag, created_at, last_seen_at, expires_at, address, user_agent'

export function sqliteAdminSessions(db: DatabaseSync, writes: GroupCommit): AdminSessionStore {
  const sql = {
    insert: db.prepare(`INSERT INTO admin_sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    find: db.prepare(`SELECT ${COLUMNS} FROM admin_sessions WHERE id = ?`),
    touch: db.prepare('UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?'),
    list: db.prepare(`SELECT ${COLUMNS} FROM admin_sessions ORDER BY created_at DESC, id`),
    end: db.prepare('DELETE FROM admin_sessions WHERE id = ?'),
    prune: db.prepare(
      `DELETE FROM admin_sessions
       WHERE expires_at <= ? OR last_seen_at < ? OR token_tag NOT IN (SELECT value FROM json_each(?))`,
    ),
  }
  return {
    // A sign-in, a touch and a prune may be undone by a power cut (the person signs in again);
    // a sign-out may not, so it waits for the disk like an event.
    createAdminSession(s) {
      return writes.submit(
        () => {
          sql.insert.run(
            s.id,
            s.secretHash,
            s.role,
            s.tokenTag,
            s.createdAt,
            s.lastSeenAt,
            s.expiresAt,
            s.address,
            s.userAgent,
          )
        },
        { durable: false },
      )
    },
    async findAdminSession(id) {
      const row = sql.find.get(id)
      return row === undefined ? null : toSession(row)
    },
    touchAdminSession(id, lastSeenAt) {
      return writes.submit(() => void sql.touch.run(lastSeenAt, id), { durable: false })
    },
    async listAdminSessions() {
      return sql.list.all().map(toSession)
    },
    endAdminSession(id) {
      return writes.submit(() => Number(sql.end.run(id).changes) > 0)
    },
    pruneAdminSessions({ now, idleSince, tokenTags }) {
      return writes.submit(() => Number(sql.prune.run(now, idleSince, JSON.stringify(tokenTags)).changes), {
        durable: false,
      })
    },
  }
}

function toSession(row: Record<string, unknown>): AdminSessionRow {
  const hash = row.secret_hash as Uint8Array
  return {
    id: row.id as string,
    secretHash: Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength),
    role: row.role as AdminRole,
    tokenTag: row.token_tag as string,
    createdAt: row.created_at as number,
    lastSeenAt: row.last_seen_at as number,
    expiresAt: row.expires_at as number,
    address: row.address as string | null,
    userAgent: row.user_agent as string | null,
  }
}
