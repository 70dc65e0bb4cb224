// The start-up backfill: each session once, as soon as it points at the relay (from then on
// WhatsGate posts here, so nothing falls between the two), one session at a time. A run that
// stops early (WhatsGate down, a page that failed) is tried again with backoff until it completes
// or the relay stops: a session is never left half fetched because WhatsGate was away at start.
import type { Logger } from 'pino'
import { type Clock, systemClock } from '../shared/clock.ts'
import { sleep } from '../shared/sleep.ts'
import type { Backfill, BackfillResult } from './backfill.ts'

export interface StartupBackfillOptions {
  backfill: Backfill
  log: Logger
  retryDelay: (attempt: number) => number
  /** What the waits between runs run on; real time by default. */
  clock?: Clock
}

export interface StartupBackfill {
  /** Queues a session; a session already queued or done is ignored. */
  add(whatsappId: string): void
  /** The last run of each session so far. */
  results(): BackfillResult[]
  stop(): Promise<void>
}

export function createStartupBackfill({
  backfill,
  log,
  retryDelay,
  clock = systemClock,
}: StartupBackfillOptions): StartupBackfill {
  const abort = new AbortController()
  const queued = new Set<string>()
  const results = new Map<string, BackfillResult>()
  let chain = Promise.resolve()

  async function untilComplete(whatsappId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const [result] = await backfill.run({ whatsappIds: [whatsappId], signal: abort.signal })
      if (!result) return
      results.set(whatsappId, result)
      if (result.error === undefined) return
      const retryInMs = retryDelay(attempt)
      log.warn({ whatsappId, attempt, retryInMs }, 'start-up backfill of session incomplete; retrying')
      await sleep(retryInMs, abort.signal, clock)
    }
  }

  return {
    add(whatsappId) {
      if (queued.has(whatsappId) || abort.signal.aborted) return
      queued.add(whatsappId)
      chain = chain
        .then(() => untilComplete(whatsappId))
        .catch((error) => {
          if (!abort.signal.aborted) log.error({ err: error, whatsappId }, 'start-up backfill failed')
        })
    },
    results: () => [...results.values()],
    async stop() {
      abort.abort()
      await chain
    },
  }
}
