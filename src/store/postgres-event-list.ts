// What the rows of a page of events show beyond the event itself (AdminStore.eventSummaries), on
// PostgreSQL: their bodies, for the message preview, and their deliveries' outcomes, in one round
// trip each, by primary key and deliveries_event.
import type { QueryResult, QueryResultRow } from 'pg'
import type { EventDeliverySummary } from './types.ts'

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>

const BODIES = 'SELECT seq, body FROM events WHERE seq = ANY($1::bigint[])'
const DELIVERIES = `
  SELECT event_seq AS seq, target, status, attempts FROM deliveries
  WHERE event_seq = ANY($1::bigint[]) ORDER BY event_seq, id`

export async function postgresEventSummaries(query: Query, seqs: readonly number[]) {
  const [bodies, deliveries] = await Promise.all([
    query<{ seq: number; body: Buffer }>(BODIES, [seqs]),
    query<EventDeliverySummary & QueryResultRow>(DELIVERIES, [seqs]),
  ])
  return {
    bodies: new Map(bodies.rows.map((row) => [Number(row.seq), row.body] as const)),
    deliveries: deliveries.rows.map((row) => ({ ...row, seq: Number(row.seq) })),
  }
}
