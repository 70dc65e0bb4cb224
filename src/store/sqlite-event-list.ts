// What the rows of a page of events show beyond the event itself (AdminStore.eventSummaries):
// their bodies, for the message preview, and their deliveries' outcomes. A page is at most a few
// hundred events; their seqs go in as one JSON array, read by primary key and deliveries_event.
import type { DatabaseSync } from 'node:sqlite'
import type { EventDeliverySummary } from './types.ts'

const BODIES = 'SELECT seq, body FROM events WHERE seq IN (SELECT value FROM json_each(?))'
const DELIVERIES = `
  SELECT event_seq AS seq, target, status, attempts FROM deliveries
  WHERE event_seq IN (SELECT value FROM json_each(?)) ORDER BY event_seq, id`

export function sqliteEventSummaries(db: DatabaseSync) {
  const bodies = db.prepare(BODIES)
  const deliveries = db.prepare(DELIVERIES)
  return (seqs: readonly number[]) => {
    const list = JSON.stringify(seqs)
    return {
      bodies: new Map(
        bodies.all(list).map((row) => {
          const blob = row.body as Uint8Array
          return [row.seq as number, Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)] as const
        }),
      ),
      deliveries: deliveries.all(list) as unknown as EventDeliverySummary[],
    }
  }
}
