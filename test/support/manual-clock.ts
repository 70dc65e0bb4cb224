// A clock that stands still until the test moves it: what the relay waits for happens when the test
// says so, and a wait still pending is proof that nothing will happen until then.
import type { Clock } from '../../src/shared/clock.ts'

interface Timer {
  at: number
  fn: () => void
}

export interface ManualClock extends Clock {
  /** Moves time on by `ms`, running each timer that comes due on the way, in order. */
  advance(ms: number): void
  /** How long each pending timer has still to wait, soonest first. */
  pending(): number[]
}

/** Starts at `start` (now by default: events stored by real time are due at once). */
export function createManualClock(start = Date.now()): ManualClock {
  let now = start
  const timers = new Set<Timer>()
  const soonest = () => [...timers].sort((a, b) => a.at - b.at)
  return {
    now: () => now,
    setTimer(fn, ms) {
      // Due at once (a lane looking again right away): on the event loop, as a real timer would.
      if (ms <= 0) {
        const timer = setTimeout(fn, 0)
        return () => clearTimeout(timer)
      }
      const timer = { at: now + ms, fn }
      timers.add(timer)
      return () => timers.delete(timer)
    },
    advance(ms) {
      const until = now + ms
      for (let next = soonest()[0]; next && next.at <= until; next = soonest()[0]) {
        timers.delete(next)
        now = next.at
        next.fn()
      }
      now = until
    },
    pending: () => soonest().map((timer) => timer.at - now),
  }
}

/**
 * Moves `clock` on by one period of a loop that sets its next timer when a round has finished
 * (the alerts loop), and waits until that round has: its timer of `periodMs` is pending again.
 */
export async function runRound(clock: ManualClock, periodMs: number): Promise<void> {
  clock.advance(periodMs)
  const deadline = Date.now() + 20_000
  while (!clock.pending().includes(periodMs)) {
    if (Date.now() > deadline) throw new Error('the round did not finish')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
