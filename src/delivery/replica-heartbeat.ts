// Replica heartbeats: every replica writes its own beat every few seconds and, in the same turn,
// looks for replicas that have fallen silent. One silent for REPLICA_DEAD_AFTER_SECONDS is dead
// (killed, its machine gone): its leases are freed at once, so its deliveries are sent by the
// others within seconds instead of when each lease runs out (dispatcher.ts, leaseMs). A replica
// that was only stalled loses nothing by it: its outcomes for freed leases are not recorded and
// the deliveries are sent again (at least once, docs/architecture.md). Its row is forgotten
// after REPLICA_FORGET_AFTER_SECONDS; a clean shutdown removes it at once. Times are the
// replicas' own clocks, as lease expiry already compares them: keep them in sync (NTP).
import type { Logger } from 'pino'
import { type Clock, systemClock } from '../shared/clock.ts'
import type { ReplicaStore } from '../store/types.ts'

export interface ReplicaHeartbeatDeps {
  store: ReplicaStore
  /** This replica's id: its dispatcher's lease owner. */
  id: string
  /** Silent this long: dead, its leases freed. */
  deadAfterMs: number
  /** Silent this long: forgotten. */
  forgetAfterMs: number
  log: Logger
  clock?: Clock
  /** Leases were freed: the dispatcher looks for them now rather than at its next poll. */
  onLeasesFreed?: () => void
  /**
   * Whether other processes share the store (PostgreSQL). Unshared (SQLite, one process per file),
   * nothing runs on a timer: the one replica beats when it starts and when it is listed.
   */
  shared?: boolean
}

/** A replica as GET /admin/status shows it. */
export interface ReplicaStatus {
  id: string
  startedAt: number
  lastBeatAt: number
  /** Its last beat is recent enough, and no replica found it dead since. */
  alive: boolean
  /** The replica answering. */
  current: boolean
}

/**
 * Ten beats within the limit (1.5 s at the default 15 s): a few lost to a slow moment do not make
 * a replica dead, and one that died is found within a tenth of the limit past it.
 */
export const beatIntervalMs = (deadAfterMs: number) => Math.max(100, Math.min(5000, deadAfterMs / 10))

export function createReplicaHeartbeat(deps: ReplicaHeartbeatDeps) {
  const { store, id, deadAfterMs, forgetAfterMs, log } = deps
  const shared = deps.shared ?? true
  const clock = deps.clock ?? systemClock
  const intervalMs = beatIntervalMs(deadAfterMs)
  const startedAt = clock.now()
  let cancelTimer: (() => void) | null = null
  let running = false
  let turn: Promise<void> | null = null
  let failing = false

  async function beatAndReap(): Promise<void> {
    try {
      const { wasDead } = await store.beat({ id, startedAt, now: clock.now() })
      if (wasDead) {
        log.warn(
          { replica: id },
          'this replica was found dead (silent past REPLICA_DEAD_AFTER_SECONDS): its leases were freed, and what it still sends may be sent twice',
        )
      }
      const now = clock.now()
      const { dead, freed } = await store.reapReplicas({
        self: id,
        now,
        silentSince: now - deadAfterMs,
        forgetBefore: now - forgetAfterMs,
      })
      for (const replica of dead) {
        log.warn(
          { replica, silentSeconds: deadAfterMs / 1000 },
          'replica silent: found dead, its deliveries are claimable again',
        )
      }
      if (freed > 0) {
        log.warn({ deliveries: freed }, 'leases of dead replicas freed')
        deps.onLeasesFreed?.()
      }
      if (failing) log.info('replica heartbeat written again')
      failing = false
    } catch (error) {
      // Once per outage: the store's own errors say the rest.
      if (!failing) log.error({ err: error }, 'replica heartbeat failed; will try again')
      failing = true
    }
  }

  function schedule(): void {
    if (!running) return
    cancelTimer = clock.setTimer(() => {
      cancelTimer = null
      turn = beatAndReap().finally(() => {
        turn = null
        schedule()
      })
    }, intervalMs)
  }

  return {
    name: 'replica-heartbeat' as const,
    id,
    /** Beats once before the dispatcher takes any lease, so a replica with leases has a row. */
    async start() {
      running = shared
      if (shared) log.info({ replica: id, beatEverySeconds: intervalMs / 1000 }, 'replica heartbeat started')
      await beatAndReap()
      schedule()
    },
    async stop(_deadline: number) {
      running = false
      cancelTimer?.()
      cancelTimer = null
      await turn
      // Stopped last of the loops: the dispatcher has released its leases already.
      await store
        .removeReplica(id)
        .catch((error) => log.error({ err: error }, 'could not remove the replica heartbeat'))
    },
    async replicas(): Promise<ReplicaStatus[]> {
      if (!shared) await store.beat({ id, startedAt, now: clock.now() })
      const now = clock.now()
      return (await store.listReplicas()).map((row) => ({
        ...row,
        // The one answering is alive, whatever its last beat says (a clock moved on in a test).
        alive: row.id === id || (row.deadAt === null && row.lastBeatAt >= now - deadAfterMs),
        current: row.id === id,
      }))
    },
  }
}

export type ReplicaHeartbeat = ReturnType<typeof createReplicaHeartbeat>
