// What to do after one delivery attempt. Pure: time and randomness come in as arguments so every
// branch is testable without sleeping. The schedule is meant to outlast an outage (hours), not to
// hide a blip, so the numbers are large and the jitter full (AWS "exponential backoff and jitter":
// full jitter spreads a backlog's retries best when a target comes back).
import type { RetrySettings } from './targets.ts'

export interface AttemptResult {
  /**
   * The far side confirmed it (sender.ts's SendOutcome.ok): a broker's confirmation has no status.
   * Left out, a 2xx status is the confirmation.
   */
  ok?: boolean
  /** HTTP status, or null when no response arrived. */
  status: number | null
  /** Network/timeout error as reported by the sender, or null. */
  error: string | null
  /** The attempt's deadline ended it (see SendResult.timedOut): the target is slow, not gone. */
  timedOut: boolean
  /** The target's Retry-After, already turned into a delay (see parseRetryAfter). */
  retryAfterMs: number | null
}

export interface AttemptContext {
  /** Attempts made so far, including the one just finished. */
  attempts: number
  /** When the event was received (ms since epoch): maxAgeMs counts from here. */
  firstReceivedAt: number
  now: number
}

export type Decision =
  | { kind: 'delivered' }
  | { kind: 'retry'; at: number }
  | { kind: 'dead'; reason: string }

/**
 * Full-jitter exponential backoff after `attempt` attempts. The floor, a tenth of initialDelayMs,
 * stops an unlucky random() near 0 from retrying at once; it scales with the schedule so a test
 * configured with 50 ms delays stays fast while the default schedule never retries within 6 s.
 */
export function backoffDelay(
  attempt: number,
  retry: RetrySettings,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1)
  // 2 ** exponent overflows to Infinity for absurd attempt counts; min() still caps it.
  const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** exponent)
  const floor = Math.min(ceiling, retry.initialDelayMs / 10)
  return Math.round(Math.max(floor, random() * ceiling))
}

/**
 * Retry-After as a delay in ms from `now`: delta-seconds or an HTTP-date. Null when absent or
 * unreadable. A date in the past is 0 (retry when the schedule says).
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  const text = value?.trim()
  if (!text) return null
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // Every HTTP-date form starts with a day name; without this check Date.parse reads "1 foo" as a date.
  if (!/^[A-Za-z]{3}/.test(text)) return null
  const at = Date.parse(text)
  if (Number.isNaN(at)) return null
  return Math.max(0, at - now)
}

function describe(result: AttemptResult): string {
  if (result.status !== null)
    return result.error ? `HTTP ${result.status} (${result.error})` : `HTTP ${result.status}`
  return result.error ?? 'unknown error'
}

export function decide(
  result: AttemptResult,
  context: AttemptContext,
  retry: RetrySettings,
  random: () => number = Math.random,
): Decision {
  const { status } = result
  if (result.ok ?? (status !== null && status >= 200 && status < 300)) return { kind: 'delivered' }
  const last = describe(result)
  // 410 is the one answer that says "never again"; everything else may heal.
  if (status === 410) return { kind: 'dead', reason: `gone: ${last}` }
  if (context.attempts >= retry.maxAttempts) {
    return { kind: 'dead', reason: `gave up after ${context.attempts} attempts, last: ${last}` }
  }

  let delay = backoffDelay(context.attempts, retry, random)
  // Honoured as "not before", capped so a target cannot park a delivery for a week.
  if (result.retryAfterMs !== null) delay = Math.max(delay, Math.min(result.retryAfterMs, retry.maxDelayMs))
  // A target that is rate limiting or too slow to answer is overloaded: never come back quickly,
  // whatever the jitter drew, or a backlog becomes a hammering loop.
  if (status === 429 || status === 408 || result.timedOut) delay = Math.max(delay, retry.initialDelayMs)

  const at = context.now + delay
  if (retry.maxAgeMs !== null && at > context.firstReceivedAt + retry.maxAgeMs) {
    return {
      kind: 'dead',
      reason: `expired: next attempt would pass maxAgeMs ${retry.maxAgeMs}, last: ${last}`,
    }
  }
  return { kind: 'retry', at }
}
