// Replica heartbeats on the SQLite file: the store's part of delivery/replica-heartbeat.ts. One
// process uses a file, so the replicas are that process (a test may beat as several): kept in
// memory, as a restart frees every lease anyway (recoverLeases). Freeing a dead one's leases is
// the same write as on PostgreSQL.
import type { DatabaseSync } from 'node:sqlite'
import type { GroupCommit } from './group-commit.ts'
import type { ReplicaRow, ReplicaStore } from './types.ts'

export function sqliteHeartbeats(db: DatabaseSync, writes: GroupCommit): ReplicaStore {
  const free = db.prepare(
    "UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE status = 'pending' AND lease_owner = ?",
  )
  const replicas = new Map<string, ReplicaRow>()
  return {
    async beat({ id, startedAt, now }) {
      const known = replicas.get(id)
      replicas.set(id, {
        id,
        startedAt: known?.startedAt ?? startedAt,
        lastBeatAt: Math.max(known?.lastBeatAt ?? now, now),
        deadAt: null,
      })
      return { wasDead: known !== undefined && known.deadAt !== null }
    },

    async reapReplicas({ self, now, silentSince, forgetBefore }) {
      const dead = [...replicas.values()]
        .filter((r) => r.id !== self && r.deadAt === null && r.lastBeatAt < silentSince)
        .map((r) => r.id)
        .sort()
      const freed =
        dead.length === 0
          ? 0
          : await writes.submit(() => dead.reduce((sum, id) => sum + Number(free.run(id).changes), 0))
      for (const id of dead) {
        const row = replicas.get(id)
        if (row) row.deadAt = now
      }
      for (const row of replicas.values()) {
        if (row.id !== self && row.lastBeatAt < forgetBefore) replicas.delete(row.id)
      }
      return { dead, freed }
    },

    async listReplicas() {
      return [...replicas.values()]
        .map((row) => ({ ...row }))
        .sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1))
    },

    async removeReplica(id) {
      replicas.delete(id)
    },
  }
}
