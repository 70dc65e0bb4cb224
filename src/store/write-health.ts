// Whether the store takes writes, for /readyz: a read would pass while the disk is full or the
// database read-only, and every webhook got 503. The latest real write decides: an accept that
// failed (one event's bad data aside) says not ready, one that went through says ready, for
// FRESH_MS; past that, a tiny real write through the normal write path (the store's probe) asks
// again, so a relay that a load balancer stopped sending to still finds out it has recovered.
import type { Clock } from '../shared/clock.ts'
import { isDataError } from './errors.ts'

export const FRESH_MS = 1000

export interface WriteHealth {
  /** Passes an accept's outcome through, noting it. */
  watch<T>(write: Promise<T>): Promise<T>
  /** Throws the latest write's error while fresh, or runs the probe (its outcome is noted). */
  check(probe: () => Promise<unknown>): Promise<void>
}

export function createWriteHealth(clock: Pick<Clock, 'now'>): WriteHealth {
  let latest: { at: number; error: unknown } | null = null
  const note = (error: unknown) => {
    latest = { at: clock.now(), error }
  }
  return {
    watch(write) {
      return write.then(
        (result) => {
          note(null)
          return result
        },
        (error: unknown) => {
          if (!isDataError(error)) note(error)
          throw error
        },
      )
    },
    async check(probe) {
      if (latest !== null && clock.now() - latest.at < FRESH_MS) {
        if (latest.error !== null) throw latest.error
        return
      }
      try {
        await probe()
        note(null)
      } catch (error) {
        note(error)
        throw error
      }
    },
  }
}
