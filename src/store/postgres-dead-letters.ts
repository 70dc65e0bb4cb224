// Dead letters and the audit log on PostgreSQL: the statements of dead-letter-sql.ts, and a bulk
// replay or discard a chunk per statement (each its own transaction), as on SQLite.
import type { QueryResult, QueryResultRow } from 'pg'
import {
  AUDIT_COLUMNS,
  auditValues,
  type Built,
  chunkStatement,
  countStatement,
  type Dialect,
  groupsStatement,
  listStatement,
  toAuditRow,
  toDeadLetterCount,
  toDeadLetterGroup,
  toDeadLetterRow,
} from './dead-letter-sql.ts'
import type { AuditStore, DeadLetterFilter, DeadLetterStore } from './types.ts'

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>

// The planner picks the join order with its statistics.
const POSTGRES: Dialect = { placeholder: (index) => `$${index}`, ordered: false }

export interface PostgresDeadLetters extends DeadLetterStore, AuditStore {
  /** Replays the dead letters that match, a chunk per statement; returns how many. */
  replayDeadLetters(filter: DeadLetterFilter, now: number): Promise<{ replayed: number }>
}

// One chunk: the ids chosen, then those still dead and not discarded changed. `last` moves the
// cursor past every id chosen, changed or not (another replica may have replayed one since).
function chunkChange(chunk: Built, set: string, extra: unknown[]): Built {
  const n = chunk.values.length
  const shifted = set.replace(/\$(\d+)/g, (_, i: string) => `$${n + Number(i)}`)
  return {
    text: `
      WITH chosen AS (${chunk.text}),
      changed AS (
        UPDATE deliveries SET ${shifted}
        WHERE id IN (SELECT id FROM chosen) AND status = 'dead' AND discarded_at IS NULL
        RETURNING 1)
      SELECT (SELECT max(id) FROM chosen) AS last, (SELECT count(*)::integer FROM changed) AS changed`,
    values: [...chunk.values, ...extra],
  }
}

const REPLAY_SET = `status = 'pending', attempts = 0, next_attempt_at = $1, finished_at = NULL,
  lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1`
const DISCARD_SET = 'discarded_at = $1, discard_reason = $2, discarded_by = $3'

export function postgresDeadLetters(query: Query): PostgresDeadLetters {
  const rows = async ({ text, values }: Built) => (await query(text, values)).rows

  async function inChunks(filter: DeadLetterFilter, set: string, extra: unknown[]): Promise<number> {
    const [top] = await rows({ text: 'SELECT coalesce(max(id), 0) AS id FROM deliveries', values: [] })
    const last = Number(top?.id ?? 0)
    const upTo = Math.min(filter.upTo ?? last, last)
    let after = 0
    let total = 0
    for (;;) {
      const [row] = await rows(
        chunkChange(chunkStatement(filter, after, upTo, POSTGRES, 'deliveries'), set, extra),
      )
      if (row?.last === null || row?.last === undefined) return total
      total += Number(row.changed)
      after = Number(row.last)
    }
  }

  return {
    async deadLetterGroups(filter) {
      return (await rows(groupsStatement(filter, POSTGRES, 'deliveries'))).map(toDeadLetterGroup)
    },

    async listDeadLetters(q) {
      return (await rows(listStatement(q, POSTGRES, 'deliveries'))).map(toDeadLetterRow)
    },

    async countDeadLetters(filter) {
      return toDeadLetterCount(await rows(countStatement(filter, POSTGRES, 'deliveries')))
    },

    async replayDeadLetters(filter, now) {
      return { replayed: await inChunks(filter, REPLAY_SET, [now]) }
    },

    async discard(selector, { at, reason, by }) {
      if ('ids' in selector) {
        const result = await query(
          `UPDATE deliveries SET ${DISCARD_SET}
           WHERE id = ANY($4::bigint[]) AND status = 'dead' AND discarded_at IS NULL`,
          [at, reason, by, selector.ids],
        )
        return { discarded: result.rowCount ?? 0 }
      }
      return { discarded: await inChunks(selector.dead, DISCARD_SET, [at, reason, by]) }
    },

    async recordAudit(entry) {
      await query(
        `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        auditValues(entry),
      )
    },

    async listAudit({ beforeId, limit }) {
      const { rows: found } = await query(
        `SELECT id, ${AUDIT_COLUMNS} FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`,
        [beforeId ?? Number.MAX_SAFE_INTEGER, limit],
      )
      return found.map(toAuditRow)
    },
  }
}
