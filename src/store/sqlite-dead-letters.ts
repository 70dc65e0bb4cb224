// Dead letters and the audit log on the SQLite file: the store's part of the triage
// (admin/routes/dead-letters.ts, audit.ts). A bulk replay or discard commits a chunk per
// transaction (dead-letter-sql.ts), so a million matches never hold the write lock at once.
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import {
  AUDIT_COLUMNS,
  type Built,
  chunkStatement,
  countStatement,
  groupsStatement,
  listStatement,
  toAuditRow,
  toDeadLetterGroup,
  toDeadLetterRow,
} from './dead-letter-sql.ts'
import type { GroupCommit } from './group-commit.ts'
import type { AuditStore, DeadLetterFilter, DeadLetterStore } from './types.ts'

const placeholder = () => '?'

// A dead letter becomes pending from scratch; discarded ones are left to a replay by id.
const REPLAY_CHUNK = `
  UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1, finished_at = NULL,
    lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1
  WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'dead' AND discarded_at IS NULL`
const DISCARD = `
  UPDATE deliveries SET discarded_at = ?1, discard_reason = ?2, discarded_by = ?3
  WHERE id IN (SELECT value FROM json_each(?4)) AND status = 'dead' AND discarded_at IS NULL`

export interface SqliteDeadLetters extends DeadLetterStore, AuditStore {
  /** Replays the dead letters that match, a chunk per transaction; returns how many. */
  replayDeadLetters(filter: DeadLetterFilter, now: number): Promise<{ replayed: number }>
}

export function sqliteDeadLetters(db: DatabaseSync, writes: GroupCommit): SqliteDeadLetters {
  const prepared = new Map<string, StatementSync>()
  const statement = (text: string) => {
    let found = prepared.get(text)
    if (found === undefined) {
      found = db.prepare(text)
      prepared.set(text, found)
    }
    return found
  }
  const all = ({ text, values }: Built) => statement(text).all(...(values as never[]))
  const sql = {
    replayChunk: db.prepare(REPLAY_CHUNK),
    discard: db.prepare(DISCARD),
    lastId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM deliveries'),
    insertAudit: db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    listAudit: db.prepare(`SELECT id, ${AUDIT_COLUMNS} FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`),
  }

  /** Runs `change` on each chunk of matching ids, one transaction each; sums what it changed. */
  async function inChunks(filter: DeadLetterFilter, change: (ids: number[]) => number): Promise<number> {
    const last = sql.lastId.get()?.id as number
    const upTo = Math.min(filter.upTo ?? last, last)
    let after = 0
    let total = 0
    for (;;) {
      const { changed, next } = await writes.submit(() => {
        const ids = all(chunkStatement(filter, after, upTo, placeholder)).map((row) => row.id as number)
        return { changed: ids.length === 0 ? 0 : change(ids), next: ids.at(-1) ?? null }
      })
      if (next === null) return total
      total += changed
      after = next
    }
  }

  return {
    async deadLetterGroups(filter) {
      return all(groupsStatement(filter, placeholder)).map(toDeadLetterGroup)
    },

    async listDeadLetters(query) {
      return all(listStatement(query, placeholder)).map(toDeadLetterRow)
    },

    async countDeadLetters(filter) {
      const [row] = all(countStatement(filter, placeholder))
      return { count: Number(row?.count ?? 0), upTo: (row?.up_to as number | null | undefined) ?? null }
    },

    async replayDeadLetters(filter, now) {
      const replayed = await inChunks(filter, (ids) =>
        Number(sql.replayChunk.run(now, JSON.stringify(ids)).changes),
      )
      return { replayed }
    },

    async discard(selector, { at, reason, by }) {
      const change = (ids: number[]) => Number(sql.discard.run(at, reason, by, JSON.stringify(ids)).changes)
      if ('ids' in selector) return { discarded: await writes.submit(() => change(selector.ids)) }
      return { discarded: await inChunks(selector.dead, change) }
    },

    recordAudit(entry) {
      return writes.submit(() => {
        sql.insertAudit.run(
          entry.at,
          entry.action,
          entry.via,
          entry.role,
          entry.session,
          entry.subject,
          entry.count,
          entry.reason,
        )
      })
    },

    async listAudit({ beforeId, limit }) {
      return sql.listAudit.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit).map(toAuditRow)
    },
  }
}
