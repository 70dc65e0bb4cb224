// WhatsGate's dates: `event_date` and events-get's `date` are wall-clock `YYYY-MM-DD HH:MM:SS`.
// The page's examples put `event_date` on the same second as the message's unix `timestamp` read
// in UTC, so a date the relay makes itself (a first start, a fallback) is written in UTC.

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

/** Milliseconds since the epoch as a `YYYY-MM-DD HH:MM:SS` wall clock in UTC. */
export function wallClock(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}

/** The wall clock read as UTC, or null when it is not a real `YYYY-MM-DD HH:MM:SS` time. */
function wallClockMs(text: string): number | null {
  const m = WALL_CLOCK.exec(text)
  if (!m) return null
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  const date = new Date(ms)
  const real = date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60
  return real ? ms : null
}

export function isWallClock(text: string): boolean {
  return wallClockMs(text) !== null
}

/**
 * Subtracts seconds from a wall-clock time. Its zone does not matter: computing in UTC never
 * applies a DST shift, so the result is the same wall clock minus the interval. Null when the
 * input is not in that format.
 */
export function subtractSeconds(dateTime: string, seconds: number): string | null {
  const ms = wallClockMs(dateTime)
  return ms === null ? null : wallClock(ms - seconds * 1000)
}

/**
 * The date an event is filed under (its session's backfill mark, the admin API's time filter):
 * `event_date` as sent when it has the documented form; else the same instant from an ISO string
 * or a unix time in seconds or milliseconds; else, absent or unreadable, the time it was received.
 */
export function eventDateOf(value: unknown, receivedAt: number): string {
  if (typeof value === 'string') {
    if (isWallClock(value)) return value
    const ms = Date.parse(value)
    if (Number.isFinite(ms)) return wallClock(ms)
  }
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    // Seconds until the year 5138, milliseconds after: WhatsGate's own timestamps are seconds.
    const ms = value < 1e11 ? value * 1000 : value
    if (ms < 8.64e15) return wallClock(ms)
  }
  return wallClock(receivedAt)
}
