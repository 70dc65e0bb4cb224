// The destinations bench's baseline load, a broker's own client publishing with a bounded number in
// flight, and the wait for what the broker holds: both bounded in time, whatever the broker does.
import { type Destination, type Publisher, within } from './brokers.ts'
import type { IdSource } from './load.ts'
import { nowMs, sleep } from './process.ts'

/** The relay's default timeoutMs: a silent broker cannot hold the bench. */
const PUBLISH_TIMEOUT_MS = 10_000

/** `inFlight` publishes at a time for `seconds`, each waiting for the broker's confirmation. */
export async function publishLoop(publisher: Publisher, ids: IdSource, inFlight: number, seconds: number) {
  let confirmed = 0
  let failed = 0
  let firstError: string | null = null
  const start = nowMs()
  const end = start + seconds * 1000
  const worker = async () => {
    while (nowMs() < end) {
      try {
        await within(PUBLISH_TIMEOUT_MS, 'publish', publisher.publish(ids.next++))
        confirmed++
      } catch (error) {
        failed++
        firstError ??= error instanceof Error ? error.message : String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsed = (nowMs() - start) / 1000
  return { confirmed, failed, firstError, rate: confirmed / elapsed }
}

/**
 * Polls the broker's count until it has `expected` and stayed put for 300 ms (sends unanswered
 * when a timed load stopped may still land), nothing moved for 10 s, or `seconds` passed.
 * `changedAt`: when the final count was first seen, the end of the delivery window.
 */
export async function settle(destination: Destination, expected: number, seconds: number) {
  const deadline = nowMs() + seconds * 1000
  let count = await destination.count()
  let changedAt = nowMs()
  while (nowMs() < deadline && nowMs() - changedAt < (count >= expected ? 300 : 10_000)) {
    await sleep(100)
    const now = await destination.count()
    if (now !== count) changedAt = nowMs()
    count = now
  }
  return { count, changedAt }
}
