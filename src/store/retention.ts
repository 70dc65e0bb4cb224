// Removes finished events in small batches, so the outbox stays the size of its backlog and a
// purge never holds the write lock long enough to delay an acknowledgement.
import type { Logger } from 'pino'
import type { OutboxStore } from './types.ts'

const DAY_MS = 24 * 60 * 60 * 1000

export interface RetentionDeps {
  store: Pick<OutboxStore, 'purge'>
  log: Logger
  retentionDays: number
  deadRetentionDays: number
  intervalMs?: number
  batchSize?: number
  now?: () => number
}

export function createRetention(deps: RetentionDeps) {
  const { store, log } = deps
  const intervalMs = deps.intervalMs ?? 60_000
  const batchSize = deps.batchSize ?? 500
  const now = deps.now ?? Date.now
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null

  async function purgeOnce(): Promise<number> {
    const at = now()
    let removed = 0
    for (;;) {
      const batch = await store.purge({
        deliveredBefore: at - deps.retentionDays * DAY_MS,
        deadBefore: at - deps.deadRetentionDays * DAY_MS,
        limit: batchSize,
      })
      removed += batch
      if (batch < batchSize) break
      // Let acknowledgements in between batches.
      await new Promise((resolve) => setImmediate(resolve))
    }
    if (removed > 0) log.info({ removed }, 'purged finished events')
    return removed
  }

  function tick(): void {
    running = purgeOnce()
      .then(() => undefined)
      .catch((error) => log.error({ err: error }, 'purge failed; will try again'))
      .finally(() => {
        running = null
        if (timer) timer = setTimeout(tick, intervalMs)
      })
  }

  return {
    name: 'retention' as const,
    purgeOnce,
    start() {
      timer = setTimeout(tick, intervalMs)
    },
    /** A purge under way is short (small batches): it is waited for whatever the deadline. */
    async stop(_deadline: number) {
      if (timer) clearTimeout(timer)
      timer = null
      await running
    },
  }
}
