// Traffic per minute, for the overview's charts and the targets' last hour and day: a small table
// (traffic_minutes, one row per minute and target) counted in the transactions that make what it
// counts: an accept adds its events received, a record its delivery's outcome, a stream's
// confirmation what it delivered. Reading a day is at most 1,440 rows per target, however many
// events the outbox holds; the events' and deliveries' own indexes would read every row of the day.
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { DeliveryDecision, SessionLastEvent, TrafficBucket, TrafficCounts } from './types.ts'

export const MINUTE_MS = 60_000

/** The minute an instant falls in (its start, ms since the epoch, UTC). */
export const minuteOf = (at: number) => at - (at % MINUTE_MS)

/**
 * What an outbox already holds, counted into traffic_minutes: received times, finished deliveries,
 * failed attempts (at their end). The migration runs it once; a seeded outbox runs it after its rows.
 */
export const SQLITE_TRAFFIC_BACKFILL = `
  INSERT INTO traffic_minutes (minute, target, received, delivered, failed, dead)
  SELECT minute, target, sum(received), sum(delivered), sum(failed), sum(dead) FROM (
    SELECT received_at - received_at % 60000 AS minute, '' AS target,
           1 AS received, 0 AS delivered, 0 AS failed, 0 AS dead
    FROM events
    UNION ALL
    SELECT finished_at - finished_at % 60000, target, 0, status = 'delivered', 0, status = 'dead'
    FROM deliveries WHERE status <> 'pending' AND finished_at IS NOT NULL
    UNION ALL
    SELECT (a.started_at + a.duration_ms) - (a.started_at + a.duration_ms) % 60000, d.target, 0, 0, 1, 0
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.error_class IS NOT NULL
  ) WHERE true GROUP BY minute, target`

const ADD = `ON CONFLICT (minute, target) DO UPDATE SET
    received = received + excluded.received, delivered = delivered + excluded.delivered,
    failed = failed + excluded.failed, dead = dead + excluded.dead`

/** The counting statements, run inside the store's own write transactions. */
export function sqliteTrafficWrites(db: DatabaseSync) {
  const received = db.prepare(
    `INSERT INTO traffic_minutes (minute, target, received) VALUES (?, '', ?) ${ADD}`,
  )
  // The delivery's target comes with it: record knows only the delivery's id.
  const recorded = db.prepare(`
    INSERT INTO traffic_minutes (minute, target, delivered, failed, dead)
    SELECT ?, target, ?, ?, ? FROM deliveries WHERE id = ? ${ADD}`)
  const delivered = db.prepare(
    `INSERT INTO traffic_minutes (minute, target, delivered) VALUES (?, ?, ?) ${ADD}`,
  )
  const purge = db.prepare('DELETE FROM traffic_minutes WHERE minute < ?')
  return {
    received(now: number, count: number) {
      if (count > 0) received.run(minuteOf(now), count)
    },
    recorded(id: number, now: number, decision: DeliveryDecision, failed: boolean) {
      const kind = decision.kind
      recorded.run(minuteOf(now), Number(kind === 'delivered'), Number(failed), Number(kind === 'dead'), id)
    },
    streamDelivered(target: string, now: number, count: number) {
      if (count > 0) delivered.run(minuteOf(now), target, count)
    },
    purge(before: number) {
      purge.run(before)
    },
  }
}

const SUMS =
  'sum(received) AS received, sum(delivered) AS delivered, sum(failed) AS failed, sum(dead) AS dead'

/** The reads of the admin API: the traffic table, dead letters and each session's last event. */
export function sqliteTrafficReads(db: DatabaseSync) {
  const statements = {
    traffic: db.prepare(`
      SELECT minute - minute % ? AS at, ${SUMS} FROM traffic_minutes
      WHERE minute >= ? GROUP BY at ORDER BY at`),
    targetTraffic: db.prepare(`
      SELECT target, ${SUMS} FROM traffic_minutes WHERE minute >= ? AND target <> '' GROUP BY target`),
    // deliveries_dead_target holds only the dead rows.
    deadLetters: db.prepare(
      "SELECT target, count(*) AS count FROM deliveries INDEXED BY deliveries_dead_target WHERE status = 'dead' GROUP BY target",
    ),
    // A session's newest event is the last entry of its part of events_session (seq order).
    lastEvents: db.prepare(`
      SELECT m.whatsapp_id, (
        SELECT e.received_at FROM events e WHERE e.whatsapp_id = m.whatsapp_id ORDER BY e.seq DESC LIMIT 1
      ) AS received_at
      FROM session_marks m ORDER BY m.whatsapp_id`),
  } satisfies Record<string, StatementSync>
  return {
    async traffic(since: number, bucketMs: number): Promise<TrafficBucket[]> {
      return statements.traffic
        .all(bucketMs, since)
        .map((row) => ({ at: row.at as number, ...countsOf(row) }))
    },
    async targetTraffic(since: number): Promise<Map<string, TrafficCounts>> {
      return new Map(statements.targetTraffic.all(since).map((row) => [row.target as string, countsOf(row)]))
    },
    async deadLetters(): Promise<Map<string, number>> {
      return new Map(statements.deadLetters.all().map((row) => [row.target as string, row.count as number]))
    },
    async lastEvents(): Promise<SessionLastEvent[]> {
      return statements.lastEvents
        .all()
        .filter((row) => row.received_at !== null)
        .map((row) => ({ whatsappId: row.whatsapp_id as string, receivedAt: row.received_at as number }))
    },
  }
}

export function countsOf(row: Record<string, unknown>): TrafficCounts {
  return {
    received: Number(row.received ?? 0),
    delivered: Number(row.delivered ?? 0),
    failed: Number(row.failed ?? 0),
    dead: Number(row.dead ?? 0),
  }
}
