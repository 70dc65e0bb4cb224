import { describe, expect, it } from 'vitest'
import { createConcurrencyLimit } from '../../src/delivery/concurrency-limit.ts'

/** Answers of a target at `durationMs`, each sent with the limit reached, one ms apart. */
function answer(
  limit: ReturnType<typeof createConcurrencyLimit>,
  times: number,
  at: { now: number },
  durationMs = 10,
) {
  for (let i = 0; i < times; i++) {
    at.now++
    limit.onAnswer(
      { startedAt: at.now - durationMs, durationMs, overloaded: false, inFlight: limit.current },
      at.now,
    )
  }
}

describe('concurrency limit', () => {
  it('doubles every round of answers while the latency holds (slow start), up to the cap', () => {
    const at = { now: 1000 }
    const limit = createConcurrencyLimit({ max: 64, initial: 4 })
    answer(limit, 4, at)
    expect(limit.current).toBe(8)
    answer(limit, 8, at)
    expect(limit.current).toBe(16)
    answer(limit, 200, at)
    expect(limit.current).toBe(64)
  })

  it('does not grow while the target is not given as much as the limit allows', () => {
    const limit = createConcurrencyLimit({ max: 64, initial: 4 })
    for (let i = 0; i < 100; i++)
      limit.onAnswer({ startedAt: i, durationMs: 10, overloaded: false, inFlight: 2 }, i + 10)
    expect(limit.current).toBe(4)
  })

  it('halves on an answer that asks for less, once for the requests sent before the cut', () => {
    const at = { now: 1000 }
    const limit = createConcurrencyLimit({ max: 64, initial: 32 })
    limit.onAnswer({ startedAt: 990, durationMs: 10, overloaded: true, inFlight: 32 }, at.now)
    expect(limit.current).toBe(16)
    // Sent before the cut: the same overload, already answered.
    limit.onAnswer({ startedAt: 995, durationMs: 6, overloaded: true, inFlight: 32 }, 1001)
    expect(limit.current).toBe(16)
    // Sent after it: the target still asks for less.
    limit.onAnswer({ startedAt: 1002, durationMs: 10, overloaded: true, inFlight: 16 }, 1012)
    expect(limit.current).toBe(8)
  })

  it('then grows by one per round of answers, not by doubling', () => {
    const at = { now: 1000 }
    const limit = createConcurrencyLimit({ max: 64, initial: 32 })
    limit.onAnswer({ startedAt: 990, durationMs: 10, overloaded: true, inFlight: 32 }, at.now)
    answer(limit, 17, at)
    expect(limit.current).toBe(17)
  })

  it('shrinks when the latency grows well past the fastest seen, and never below 1', () => {
    const at = { now: 1000 }
    const limit = createConcurrencyLimit({ max: 64, initial: 20 })
    answer(limit, 1, at, 10)
    at.now += 100
    expect(limit.current).toBe(21)
    // One slow answer is not a trend.
    limit.onAnswer({ startedAt: at.now - 200, durationMs: 200, overloaded: false, inFlight: 20 }, at.now)
    expect(limit.current).toBe(21)
    // Answers that keep taking over twice the fastest and 50 ms more: the target is slowing.
    at.now += 300
    limit.onAnswer({ startedAt: at.now - 200, durationMs: 200, overloaded: false, inFlight: 20 }, at.now)
    expect(limit.current).toBe(18)
    for (let i = 0; i < 100; i++) {
      at.now += 1000
      limit.onAnswer({ startedAt: at.now - 1, durationMs: 1, overloaded: true, inFlight: 1 }, at.now)
    }
    expect(limit.current).toBe(1)
  })

  it('keeps a target slower for good within its latency, its baseline following it', () => {
    const at = { now: 1000 }
    const limit = createConcurrencyLimit({ max: 64, initial: 8 })
    answer(limit, 1, at, 2)
    // The target now takes 30 ms for good: a few cuts, then the baseline catches up and it grows.
    for (let i = 0; i < 4000; i++) {
      at.now += 31
      limit.onAnswer(
        { startedAt: at.now - 30, durationMs: 30, overloaded: false, inFlight: limit.current },
        at.now,
      )
    }
    expect(limit.current).toBe(64)
  })
})
