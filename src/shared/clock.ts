// The relay's one source of time. Every loop and retry asks the clock what time it is and waits on
// it, so a test can hold time still and move it on instead of sleeping through real delays.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  /** Runs `fn` once `ms` of this clock's time have passed; the returned function cancels it. */
  setTimer(fn: () => void, ms: number): () => void
}

/** Real time: Date.now and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms)
    return () => clearTimeout(timer)
  },
}
