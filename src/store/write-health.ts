// Whether the store takes writes, for /readyz: a read would pass while the disk is full or the
// database read-only, and every webhook got 503. The latest accept decides for FRESH_MS: one that
// failed (one event's bad data aside) says not ready, one that went through says ready, so a busy
// relay pays no probe. Otherwise a tiny real write through the normal write path (the store's
// probe) asks, each time: a relay that a load balancer stopped sending to finds out it recovered,
// and an idle one that it no longer can write.
import type { Clock } from '../shared/clock.ts'
import { isDataError } from './errors.ts'

export const FRESH_MS = 1000

export interface WriteHealth {
  /** Passes an accept's outcome through, noting it. */
  watch<T>(write: Promise<T>): Promise<T>
  /** Throws the latest accept's error while fresh, passes on its success, or runs the probe. */
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
      await probe()
    },
  }
}
