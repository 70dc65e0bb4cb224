import { describe, expect, it } from 'vitest'
import { backoffDelay, decide, parseRetryAfter } from '../../src/delivery/retry-policy.ts'
import type { RetrySettings } from '../../src/delivery/targets.ts'

const retry: RetrySettings = {
  maxAttempts: 15,
  maxAgeMs: null,
  initialDelayMs: 60_000,
  maxDelayMs: 21_600_000,
}
const NOW = Date.parse('2026-03-01T12:00:00Z')
const max = () => 0.999_999_999
const zero = () => 0
const half = () => 0.5
const ok = { status: 200, error: null, retryAfterMs: null, timedOut: false }
const at = (attempts: number) => ({ attempts, firstReceivedAt: NOW - 1000, now: NOW })

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt and caps it at maxDelayMs', () => {
    expect(backoffDelay(1, retry, max)).toBe(60_000)
    expect(backoffDelay(2, retry, max)).toBe(120_000)
    expect(backoffDelay(5, retry, max)).toBe(960_000)
    expect(backoffDelay(9, retry, max)).toBe(15_360_000)
    expect(backoffDelay(10, retry, max)).toBe(21_600_000)
    expect(backoffDelay(5000, retry, max)).toBe(21_600_000)
  })

  it('draws uniformly below the ceiling (full jitter)', () => {
    expect(backoffDelay(3, retry, half)).toBe(120_000)
    expect(backoffDelay(3, retry, () => 0.25)).toBe(60_000)
  })

  it('never goes below a tenth of initialDelayMs', () => {
    expect(backoffDelay(1, retry, zero)).toBe(6_000)
    expect(backoffDelay(7, retry, zero)).toBe(6_000)
    expect(backoffDelay(1, { ...retry, initialDelayMs: 50, maxDelayMs: 1000 }, zero)).toBe(5)
  })

  it('adds up to roughly a day over the default 15 attempts', () => {
    let expected = 0
    for (let attempt = 1; attempt < retry.maxAttempts; attempt += 1)
      expected += backoffDelay(attempt, retry, half)
    expect(expected / 3_600_000).toBeGreaterThan(15)
    expect(expected / 3_600_000).toBeLessThan(30)
  })
})

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0)
  })

  it('reads an HTTP-date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000)
    expect(parseRetryAfter('Sunday, 01-Mar-26 12:05:00 GMT', NOW)).toBe(300_000)
    expect(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW)).toBe(0)
  })

  it.each([undefined, '', '-5', '1.5', 'soon', '1 foo', 'Mon, garbage'])('is null for %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull()
  })
})

describe('decide', () => {
  it('treats every 2xx as delivered', () => {
    for (const status of [200, 201, 204, 299])
      expect(decide({ ...ok, status }, at(1), retry)).toEqual({ kind: 'delivered' })
  })

  it('counts a 2xx as delivered even on the last attempt', () => {
    expect(decide(ok, at(15), retry)).toEqual({ kind: 'delivered' })
  })

  it('kills on 410 at once, with attempts to spare', () => {
    const decision = decide(
      { status: 410, error: null, retryAfterMs: null, timedOut: false },
      at(1),
      retry,
      half,
    )
    expect(decision).toEqual({ kind: 'dead', reason: 'gone: HTTP 410' })
  })

  it.each([
    [500, null],
    [503, null],
    [404, null],
    [400, null],
    [301, null],
    [null, 'ECONNREFUSED'],
  ])('retries status %s / error %s on the backoff schedule', (status, error) => {
    const decision = decide({ status, error, retryAfterMs: null, timedOut: false }, at(3), retry, half)
    expect(decision).toEqual({ kind: 'retry', at: NOW + 120_000 })
  })

  it('gives up after maxAttempts, naming the last status or error', () => {
    expect(decide({ status: 503, error: null, retryAfterMs: null, timedOut: false }, at(15), retry)).toEqual({
      kind: 'dead',
      reason: 'gave up after 15 attempts, last: HTTP 503',
    })
    expect(
      decide({ status: null, error: 'ECONNRESET', retryAfterMs: null, timedOut: false }, at(16), retry),
    ).toEqual({
      kind: 'dead',
      reason: 'gave up after 16 attempts, last: ECONNRESET',
    })
    expect(
      decide({ status: 500, error: null, retryAfterMs: null, timedOut: false }, at(14), retry, half).kind,
    ).toBe('retry')
  })

  it('gives up when the next attempt would fall past maxAgeMs', () => {
    const aged = { ...retry, maxAgeMs: 3_600_000 }
    const context = { attempts: 2, firstReceivedAt: NOW - 3_500_000, now: NOW }
    // next attempt at NOW + 60 s, limit at NOW + 100 s: still in time
    expect(
      decide({ status: 502, error: null, retryAfterMs: null, timedOut: false }, context, aged, half),
    ).toEqual({
      kind: 'retry',
      at: NOW + 60_000,
    })
    // next attempt at NOW + 120 s: too late
    expect(
      decide({ status: 502, error: null, retryAfterMs: null, timedOut: false }, context, aged, max),
    ).toEqual({
      kind: 'dead',
      reason: 'expired: next attempt would pass maxAgeMs 3600000, last: HTTP 502',
    })
  })

  it('honours Retry-After as "not before", capped at maxDelayMs', () => {
    const result = { status: 503, error: null, retryAfterMs: 600_000, timedOut: false }
    expect(decide(result, at(1), retry, half)).toEqual({ kind: 'retry', at: NOW + 600_000 })
    // shorter than the drawn backoff: the backoff stands
    expect(decide({ ...result, retryAfterMs: 1000 }, at(5), retry, half)).toEqual({
      kind: 'retry',
      at: NOW + 480_000,
    })
    // a week is capped at six hours
    const week = { ...result, retryAfterMs: 7 * 86_400_000 }
    expect(decide(week, at(1), retry, half)).toEqual({ kind: 'retry', at: NOW + 21_600_000 })
  })

  it('puts a floor of initialDelayMs under 429, 408 and timeouts', () => {
    const floor = { kind: 'retry', at: NOW + 60_000 }
    expect(
      decide({ status: 429, error: null, retryAfterMs: null, timedOut: false }, at(1), retry, zero),
    ).toEqual(floor)
    expect(
      decide({ status: 429, error: null, retryAfterMs: 0, timedOut: false }, at(1), retry, zero),
    ).toEqual(floor)
    expect(
      decide({ status: 408, error: null, retryAfterMs: null, timedOut: false }, at(1), retry, zero),
    ).toEqual(floor)
    expect(
      decide(
        { status: null, error: 'timeout after 5000 ms', retryAfterMs: null, timedOut: true },
        at(1),
        retry,
        zero,
      ),
    ).toEqual(floor)
    // other failures only get the small jitter floor
    expect(
      decide({ status: 503, error: null, retryAfterMs: null, timedOut: false }, at(1), retry, zero),
    ).toEqual({
      kind: 'retry',
      at: NOW + 6_000,
    })
  })

  it('reports a status that came with a body error', () => {
    const decision = decide(
      { status: 500, error: 'timeout after 100 ms', retryAfterMs: null, timedOut: true },
      at(15),
      retry,
    )
    expect(decision).toEqual({
      kind: 'dead',
      reason: 'gave up after 15 attempts, last: HTTP 500 (timeout after 100 ms)',
    })
  })
})

describe('timeout errors', () => {
  it('are recognised by their kind, not by the wording the sender uses', () => {
    const floor = { kind: 'retry', at: NOW + 60_000 }
    const timedOut = { status: null, error: 'UND_ERR_HEADERS_TIMEOUT', retryAfterMs: null, timedOut: true }
    expect(decide(timedOut, at(1), retry, zero)).toEqual(floor)
    const worded = { status: null, error: 'timeout after 1 ms', retryAfterMs: null, timedOut: false }
    expect(decide(worded, at(1), retry, zero)).toEqual({ kind: 'retry', at: NOW + 6_000 })
    const refused = { status: null, error: 'ECONNREFUSED', retryAfterMs: null, timedOut: false }
    expect(decide(refused, at(1), retry, zero)).toEqual({ kind: 'retry', at: NOW + 6_000 })
  })
})
