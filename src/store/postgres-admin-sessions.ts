// Dashboard sessions on PostgreSQL, shared by every replica: the store's part of admin/sessions.ts.
import type { QueryResult, QueryResultRow } from 'pg'
import type { AdminRole, AdminSessionRow, AdminSessionStore } from './types.ts'

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>

const COLUMNS = 'id, secret_hash, role, token_tag, created_at, last_seen_at, expires_at, address, user_agent'

interface SessionRecord {
  id: string
  secret_hash: Buffer
  role: AdminRole
  token_tag: string
  created_at: number
  last_seen_at: number
  expires_at: number
  address: string | null
  user_agent: string | null
}

export function postgresAdminSessions(query: Query): AdminSessionStore {
  return {
    async createAdminSession(s) {
      await query(`INSERT INTO admin_sessions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
        s.id,
        s.secretHash,
        s.role,
        s.tokenTag,
        s.createdAt,
        s.lastSeenAt,
        s.expiresAt,
        s.address,
        s.userAgent,
      ])
    },
    async findAdminSession(id) {
      const { rows } = await query<SessionRecord>(`SELECT ${COLUMNS} FROM admin_sessions WHERE id = $1`, [id])
      return rows[0] === undefined ? null : toSession(rows[0])
    },
    async touchAdminSession(id, lastSeenAt) {
      await query('UPDATE admin_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2', [
        lastSeenAt,
        id,
      ])
    },
    async listAdminSessions() {
      const { rows } = await query<SessionRecord>(
        `SELECT ${COLUMNS} FROM admin_sessions ORDER BY created_at DESC, id`,
      )
      return rows.map(toSession)
    },
    async endAdminSession(id) {
      return ((await query('DELETE FROM admin_sessions WHERE id = $1', [id])).rowCount ?? 0) > 0
    },
    async pruneAdminSessions({ now, idleSince, tokenTags }) {
      const result = await query(
        `DELETE FROM admin_sessions
         WHERE expires_at <= $1 OR last_seen_at < $2 OR NOT (token_tag = ANY($3::text[]))`,
        [now, idleSince, tokenTags],
      )
      return result.rowCount ?? 0
    },
  }
}

function toSession(row: SessionRecord): AdminSessionRow {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    role: row.role,
    tokenTag: row.token_tag,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    address: row.address,
    userAgent: row.user_agent,
  }
}
