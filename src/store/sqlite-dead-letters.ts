// Dead letters and the audit log on the SQLite file: the store's part of the triage
// (admin/routes/dead-letters.ts, audit.ts). A bulk replay or discard commits a chunk per
// transaction (dead-letter-sql.ts), so a million matches never hold the write lock at once.
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import {
  AUDIT_COLUMNS,
  auditValues,
  type Built,
  chunkStatement,
  countStatement,
  type Dialect,
  groupsStatement,
  type Lead,
  listStatement,
  toAuditRow,
  toDeadLetterCount,
  toDeadLetterGroup,
  toDeadLetterRow,
} from './dead-letter-sql.ts'
import type { GroupCommit } from './group-commit.ts'
import type { AuditStore, DeadLetterFilter, DeadLetterStore } from './types.ts'

const SQLITE: Dialect = { placeholder: () => '?', ordered: true }

/**
 * A time window of fewer events than this is read through events_received, and its deliveries
 * looked up; a wider one reads every dead letter and looks up its event (dead-letter-sql.ts).
 */
const NARROW_WINDOW_EVENTS = 20_000

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
    // Where a window's ends fall in seq order: two index seeks, an estimate of its size (a clock
    // stepped back only makes it wrong, never the answer, which checks every event's time).
    window: db.prepare(`
      SELECT (SELECT seq FROM events WHERE received_at >= ?1 ORDER BY received_at LIMIT 1) AS start,
             (SELECT seq FROM events WHERE received_at >= ?2 ORDER BY received_at LIMIT 1) AS stop,
             (SELECT coalesce(max(seq), 0) FROM events) AS last`),
    insertAudit: db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    listAudit: db.prepare(`SELECT id, ${AUDIT_COLUMNS} FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`),
  }

  /** Which side a statement of this filter reads first. */
  function leadOf(filter: DeadLetterFilter): Lead {
    if (filter.chat !== undefined) return 'events'
    if (filter.receivedFrom === undefined && filter.receivedBefore === undefined) return 'deliveries'
    const row = sql.window.get(filter.receivedFrom ?? 0, filter.receivedBefore ?? Number.MAX_SAFE_INTEGER)
    const end = Number(row?.last ?? 0) + 1
    const size = Number(row?.stop ?? end) - Number(row?.start ?? end)
    return size < NARROW_WINDOW_EVENTS ? 'events' : 'deliveries'
  }

  /** Runs `change` on each chunk of matching ids, one transaction each; sums what it changed. */
  async function inChunks(filter: DeadLetterFilter, change: (ids: number[]) => number): Promise<number> {
    const last = sql.lastId.get()?.id as number
    const upTo = Math.min(filter.upTo ?? last, last)
    const lead = leadOf(filter)
    let after = 0
    let total = 0
    for (;;) {
      const { changed, next } = await writes.submit(() => {
        const ids = all(chunkStatement(filter, after, upTo, SQLITE, lead)).map((row) => row.id as number)
        return { changed: ids.length === 0 ? 0 : change(ids), next: ids.at(-1) ?? null }
      })
      if (next === null) return total
      total += changed
      after = next
    }
  }

  return {
    async deadLetterGroups(filter) {
      return all(groupsStatement(filter, SQLITE, leadOf(filter))).map(toDeadLetterGroup)
    },

    async listDeadLetters(query) {
      return all(listStatement(query, SQLITE, leadOf(query))).map(toDeadLetterRow)
    },

    async countDeadLetters(filter) {
      return toDeadLetterCount(all(countStatement(filter, SQLITE, leadOf(filter))))
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
        sql.insertAudit.run(...auditValues(entry))
      })
    },

    async listAudit({ beforeId, limit }) {
      return sql.listAudit.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit).map(toAuditRow)
    },
  }
}
