// The PostgreSQL store's conflicting copies (conflicts.ts): read only for the keys of a batch
// that were stored already, each in its own two statements, as duplicates are few (retries).
import type { PoolClient } from 'pg'
import { CONFLICTS_KEPT_PER_KEY, conflictOf } from './conflicts.ts'
import { SQL } from './postgres-queries.ts'
import { headersColumn } from './rows.ts'
import type { ConflictOutcome, NewEvent } from './types.ts'

/**
 * Keeps the copies among `duplicates` whose bodies differ from all stored under their keys; by
 * position in `duplicates`, what became of each (null: a silent duplicate). Keys are taken in
 * sorted order, as each locks its event row until the commit.
 */
export async function keepConflicts(
  client: PoolClient,
  duplicates: NewEvent[],
  now: number,
): Promise<(ConflictOutcome | null)[]> {
  const outcomes: (ConflictOutcome | null)[] = duplicates.map(() => null)
  const order = duplicates.map((_, i) => i).sort((a, b) => compare(duplicates[a]?.key, duplicates[b]?.key))
  for (const i of order) {
    const event = duplicates[i] as NewEvent
    const found = await client.query<{ seq: number; same: boolean }>(SQL.findCopy, [event.key, event.body])
    const row = found.rows[0]
    if (row === undefined || row.same) continue
    const known = await client.query<{ same: boolean; kept: number }>(SQL.insertConflict, [
      row.seq,
      now,
      event.body,
      headersColumn(event.headers),
      CONFLICTS_KEPT_PER_KEY,
    ])
    outcomes[i] = conflictOf(known.rows[0] as { same: boolean; kept: number })
  }
  return outcomes
}

function compare(a = '', b = ''): number {
  return a < b ? -1 : a > b ? 1 : 0
}
