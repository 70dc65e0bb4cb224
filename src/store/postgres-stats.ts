// Traffic per minute on PostgreSQL: sqlite-stats.ts's table and reads. The counting is part of
// the statements that accept events and record attempts (postgres-queries.ts, insertEvents and
// record), so it commits with them on every replica; a batch of outcomes adds its rows in
// (minute, target) order, so that two replicas adding to the same rows never wait on each other
// in a circle.
import type { QueryResultRow } from 'pg'
import { countsOf } from './sqlite-stats.ts'
import type { SessionLastEvent, TrafficBucket, TrafficCounts } from './types.ts'

export const POSTGRES_TRAFFIC_BACKFILL = `
  INSERT INTO traffic_minutes (minute, target, received, delivered, failed, dead)
  SELECT minute, target, sum(received), sum(delivered), sum(failed), sum(dead) FROM (
    SELECT received_at - received_at % 60000 AS minute, '' AS target,
           1 AS received, 0 AS delivered, 0 AS failed, 0 AS dead
    FROM events
    UNION ALL
    SELECT finished_at - finished_at % 60000, target, 0, (status = 'delivered')::int, 0, (status = 'dead')::int
    FROM deliveries WHERE status <> 'pending' AND finished_at IS NOT NULL
    UNION ALL
    SELECT (a.started_at + a.duration_ms) - (a.started_at + a.duration_ms) % 60000, d.target, 0, 0, 1, 0
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.error_class IS NOT NULL
  ) AS counted GROUP BY minute, target`

/** Adds a row's counts to the minute's: the ON CONFLICT of every write to traffic_minutes. */
export const ADD_TRAFFIC = `ON CONFLICT (minute, target) DO UPDATE SET
    received = traffic_minutes.received + excluded.received,
    delivered = traffic_minutes.delivered + excluded.delivered,
    failed = traffic_minutes.failed + excluded.failed,
    dead = traffic_minutes.dead + excluded.dead`

const SUMS =
  'sum(received)::bigint AS received, sum(delivered)::bigint AS delivered, sum(failed)::bigint AS failed, sum(dead)::bigint AS dead'

const STATS_SQL = {
  traffic: `
    SELECT minute - minute % $1 AS at, ${SUMS} FROM traffic_minutes
    WHERE minute >= $2 GROUP BY 1 ORDER BY 1`,
  targetTraffic: `
    SELECT target, ${SUMS} FROM traffic_minutes WHERE minute >= $1 AND target <> '' GROUP BY target`,
  // deliveries_dead_target holds only the dead rows.
  deadLetters: "SELECT target, count(*) AS count FROM deliveries WHERE status = 'dead' GROUP BY target",
  // A session's newest event is the last entry of its part of events_session (whatsapp_id, seq).
  lastEvents: `
    SELECT m.whatsapp_id, (
      SELECT e.received_at FROM events e WHERE e.whatsapp_id = m.whatsapp_id ORDER BY e.seq DESC LIMIT 1
    ) AS received_at
    FROM session_marks m ORDER BY m.whatsapp_id`,
  purge: 'DELETE FROM traffic_minutes WHERE minute < $1',
}

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<{ rows: R[] }>

export function postgresTrafficReads(query: Query) {
  return {
    async traffic(since: number, bucketMs: number): Promise<TrafficBucket[]> {
      const { rows } = await query(STATS_SQL.traffic, [bucketMs, since])
      return rows.map((row) => ({ at: Number(row.at), ...countsOf(row) }))
    },
    async targetTraffic(since: number): Promise<Map<string, TrafficCounts>> {
      const { rows } = await query(STATS_SQL.targetTraffic, [since])
      return new Map(rows.map((row) => [row.target as string, countsOf(row)]))
    },
    async deadLetters(): Promise<Map<string, number>> {
      const { rows } = await query(STATS_SQL.deadLetters)
      return new Map(rows.map((row) => [row.target as string, Number(row.count)]))
    },
    async lastEvents(): Promise<SessionLastEvent[]> {
      const { rows } = await query(STATS_SQL.lastEvents)
      return rows
        .filter((row) => row.received_at !== null)
        .map((row) => ({ whatsappId: row.whatsapp_id as string, receivedAt: Number(row.received_at) }))
    },
  }
}

export const PURGE_TRAFFIC = STATS_SQL.purge
