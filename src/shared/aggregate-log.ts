// Warn lines that a stranger can provoke, written at most once per key (say a client address and
// what it did) per interval: a flood from one source cannot fill the disk, and the operator still
// sees who and how many. A key's first occurrence is logged at once; the ones after it are summed
// into one line when its interval is over; a key quiet for a whole interval is forgotten, so its
// next occurrence is logged at once again.
import type { Clock } from './clock.ts'

export interface AggregateLogOptions {
  log: { warn(fields: object, message: string): void }
  /** One line per key at most this often; a minute by default, as every caller logs. */
  intervalMs?: number
  message: string
  /** How many keys are told apart at once; occurrences of further keys are summed in one line. */
  maxKeys?: number
  /** Real time by default, with timers that do not hold the process open. */
  clock?: Clock
}

export interface AggregateLog {
  /** One occurrence; `fields` (the latest wins) go into the key's lines, with `count`. */
  record(key: string, fields: object): void
  /** Writes the sums still held and stops the timer; later occurrences are logged one by one. */
  close(): void
}

interface Window {
  fields: object
  message: string
  /** Occurrences not yet logged. */
  count: number
  endsAt: number
}

/** A summary line is no reason to keep a process alive. */
const unrefClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return () => clearTimeout(timer)
  },
}

const BEYOND_CAP = Symbol('keys beyond the cap')

export function createAggregateLog({
  log,
  intervalMs = 60_000,
  message,
  maxKeys = 10_000,
  clock = unrefClock,
}: AggregateLogOptions): AggregateLog {
  // In the order their windows end: every window opens `intervalMs` before its end, so one opened
  // (or rolled on) later is put at the back.
  const windows = new Map<string | typeof BEYOND_CAP, Window>()
  const beyondCapMessage = `${message} (more sources than the ${maxKeys} told apart)`
  let cancelTimer: (() => void) | null = null
  let closed = false

  const write = (window: Window) => log.warn({ ...window.fields, count: window.count }, window.message)

  function open(key: string | typeof BEYOND_CAP, fields: object, windowMessage: string) {
    write({ fields, message: windowMessage, count: 1, endsAt: 0 })
    if (closed) return
    windows.set(key, { fields, message: windowMessage, count: 0, endsAt: clock.now() + intervalMs })
    // A timer already set is for a window that ends sooner.
    cancelTimer ??= clock.setTimer(endWindows, intervalMs)
  }

  function endWindows() {
    cancelTimer = null
    const now = clock.now()
    for (const [key, window] of windows) {
      if (window.endsAt > now) {
        cancelTimer = clock.setTimer(endWindows, window.endsAt - now)
        return
      }
      windows.delete(key)
      if (window.count === 0) continue
      write(window)
      windows.set(key, { ...window, count: 0, endsAt: now + intervalMs })
    }
  }

  return {
    record(key, fields) {
      const window = windows.get(key)
      if (window) {
        window.count++
        window.fields = fields
        return
      }
      const keysHeld = windows.size - (windows.has(BEYOND_CAP) ? 1 : 0)
      if (keysHeld < maxKeys) return open(key, fields, message)
      const beyondCap = windows.get(BEYOND_CAP)
      if (beyondCap) beyondCap.count++
      else open(BEYOND_CAP, {}, beyondCapMessage)
    },
    close() {
      closed = true
      cancelTimer?.()
      cancelTimer = null
      for (const window of windows.values()) if (window.count > 0) write(window)
      windows.clear()
    },
  }
}
