// Conflicting copies: a webhook whose key is stored already with a different body. Answered OK
// like a duplicate (WhatsGate would otherwise retry it), and kept beside the event for the
// operator, up to a bound per key, so one sender cannot fill the disk through one key. Webhooks
// only, on both sides: a backfill writes the bytes of its own serialization (whatsgate/backfill.ts),
// which differ from the webhook's, and its overlap with what came by webhook is by design.
import { headersOf, type Row } from './rows.ts'
import type { ConflictOutcome, ConflictRow } from './types.ts'

export const CONFLICTS_KEPT_PER_KEY = 10

/**
 * What a duplicate key's copy is, from what is stored under the key: `same` when its body equals
 * the event's or a conflicting copy's (a silent duplicate), and how many copies are kept.
 */
export function conflictOf(found: { same: boolean; kept: number }): ConflictOutcome | null {
  if (found.same) return null
  return found.kept < CONFLICTS_KEPT_PER_KEY ? 'kept' : 'beyond_limit'
}

export function toConflictRow(row: Row, body: Buffer): ConflictRow {
  return {
    id: row.id as number,
    eventKey: row.key as string,
    receivedAt: row.received_at as number,
    headers: headersOf(row),
    body,
  }
}
