// A channel's quiet hours: a daily span of local time ("22:00-07:00" in a time zone) during which
// its messages wait in the store; they go out, in order, when it ends. Nothing is dropped.

export interface QuietHours {
  /** Minutes after local midnight; `start > end` spans midnight. */
  start: number
  end: number
  timeZone: string
}

export const QUIET_HOURS = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/

/** "22:00-07:00" in `timeZone` (an IANA name, UTC by default); throws on a zone Intl does not know. */
export function parseQuietHours(text: string, timeZone = 'UTC'): QuietHours {
  const match = QUIET_HOURS.exec(text)
  if (!match) throw new Error('must be HH:MM-HH:MM')
  new Intl.DateTimeFormat('en', { timeZone })
  const [, h1, m1, h2, m2] = match.map(Number) as [number, number, number, number, number]
  return { start: h1 * 60 + m1, end: h2 * 60 + m2, timeZone }
}

export function isQuiet(quiet: QuietHours, at: number): boolean {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: quiet.timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at)
  const hour = Number(parts.find((part) => part.type === 'hour')?.value)
  const minute = Number(parts.find((part) => part.type === 'minute')?.value)
  const now = hour * 60 + minute
  if (quiet.start === quiet.end) return false
  return quiet.start < quiet.end
    ? now >= quiet.start && now < quiet.end
    : now >= quiet.start || now < quiet.end
}
