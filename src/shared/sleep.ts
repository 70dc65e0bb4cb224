// A wait that a shutdown can cut short: retry loops (the API client, the registrar, the backfills)
// sleep through it with their stop signal, on the relay's clock.
import { type Clock, systemClock } from './clock.ts'

/** Resolves after `ms` of `clock`'s time; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      cancel()
      reject(signal?.reason)
    }
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
