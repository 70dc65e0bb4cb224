// Replica heartbeats on PostgreSQL: the store's part of delivery/replica-heartbeat.ts. A replica
// found silent is marked dead and its leases are freed by one statement, so that of two replicas
// reaping at once one does it and the other finds it done (the row lock on its heartbeat).
import type { QueryResultRow } from 'pg'
import type { ReplicaRow, ReplicaStore } from './types.ts'

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<{ rows: R[] }>
type Transaction = <T>(work: (client: { query: Query }) => Promise<T>) => Promise<T>

const SQL = {
  // Beating again after being found dead (a stall, not a death) makes a replica alive again; its
  // freed leases stay freed, and its outcomes for them are not recorded (record checks the owner).
  // `before` reads the row as it was before the statement: whether it had been found dead.
  beat: `
    WITH before AS (SELECT dead_at FROM replica_heartbeats WHERE replica = $1)
    INSERT INTO replica_heartbeats (replica, started_at, beat_at) VALUES ($1, $2, $3)
    ON CONFLICT (replica) DO UPDATE SET beat_at = greatest(replica_heartbeats.beat_at, excluded.beat_at),
      dead_at = NULL
    RETURNING (SELECT dead_at IS NOT NULL FROM before) AS was_dead`,
  // Leased rows are pending (a record frees the lease): deliveries_pending finds them.
  reap: `
    WITH dead AS (
      UPDATE replica_heartbeats SET dead_at = $1
      WHERE beat_at < $2 AND replica <> $3 AND dead_at IS NULL
      RETURNING replica
    ), freed AS (
      UPDATE deliveries d SET lease_owner = NULL, lease_expires_at = NULL
      FROM dead WHERE d.status = 'pending' AND d.lease_owner = dead.replica
      RETURNING d.id
    )
    SELECT coalesce((SELECT array_agg(replica ORDER BY replica) FROM dead), '{}') AS dead,
           (SELECT count(*) FROM freed)::integer AS freed`,
  forget: 'DELETE FROM replica_heartbeats WHERE beat_at < $1 AND replica <> $2',
  list: `
    SELECT replica, started_at, beat_at, dead_at FROM replica_heartbeats ORDER BY started_at, replica`,
  remove: 'DELETE FROM replica_heartbeats WHERE replica = $1',
}

export function postgresHeartbeats(query: Query, transaction: Transaction): ReplicaStore {
  return {
    async beat({ id, startedAt, now }) {
      const { rows } = await query<{ was_dead: boolean | null }>(SQL.beat, [id, startedAt, now])
      return { wasDead: rows[0]?.was_dead === true }
    },

    reapReplicas({ self, now, silentSince, forgetBefore }) {
      return transaction(async (client) => {
        const { rows } = await client.query<{ dead: string[]; freed: number }>(SQL.reap, [
          now,
          silentSince,
          self,
        ])
        await client.query(SQL.forget, [forgetBefore, self])
        return { dead: rows[0]?.dead ?? [], freed: rows[0]?.freed ?? 0 }
      })
    },

    async listReplicas() {
      const { rows } = await query(SQL.list)
      return rows.map(
        (row): ReplicaRow => ({
          id: row.replica as string,
          startedAt: row.started_at as number,
          lastBeatAt: row.beat_at as number,
          deadAt: (row.dead_at as number | null) ?? null,
        }),
      )
    },

    async removeReplica(id) {
      await query(SQL.remove, [id])
    },
  }
}
