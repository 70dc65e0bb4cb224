// Times without doubt, for every page: ISO 8601 with the zone always written (`Z` for UTC, or the
// local offset), in the zone the operator chose (kept by this browser), and how long ago beside.

const KEY = 'whatsgate-relay.time-zone'

/** 'utc' or 'local': the zone times are written in; UTC unless this browser chose otherwise. */
let zone = readZone()

function readZone() {
  try {
    return localStorage.getItem(KEY) === 'local' ? 'local' : 'utc'
  } catch {
    return 'utc'
  }
}

export function timeZone() {
  return zone
}

export function setTimeZone(value) {
  zone = value === 'local' ? 'local' : 'utc'
  try {
    localStorage.setItem(KEY, zone)
  } catch {
    // Storage refused (a private window's quota): the choice holds for this page only.
  }
}

const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, '0')

/** `2026-12-07T06:03:54Z` in UTC, `2026-12-07T09:03:54+03:00` in local time: 24-hour, zone shown. */
export function isoText(ms, inZone = zone) {
  const d = new Date(ms)
  if (inZone === 'utc') return `${d.toISOString().slice(0, 19)}Z`
  const offset = -d.getTimezoneOffset()
  const sign = offset < 0 ? '-' : '+'
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  return `${date}T${clock}${sign}${pad(offset / 60)}:${pad(offset % 60)}`
}

/** `just now`, `42 s ago`, `3 min ago`, `2 h ago`, `5 d ago`; `in 3 min` for a time to come. */
export function relative(ms, now = Date.now()) {
  const seconds = Math.round((now - ms) / 1000)
  const size = Math.abs(seconds)
  if (size < 5) return 'just now'
  const text =
    size < 60
      ? `${size} s`
      : size < 3600
        ? `${Math.floor(size / 60)} min`
        : size < 86_400
          ? `${Math.floor(size / 3600)} h`
          : `${Math.floor(size / 86_400)} d`
  return seconds >= 0 ? `${text} ago` : `in ${text}`
}

/**
 * A time the operator typed into a filter, as an ISO instant: any ISO 8601 form; one without a
 * zone is read in the zone chosen. '' for none, null when it is not a time.
 */
export function instantOf(text) {
  const value = text.trim()
  if (value === '') return ''
  const withT = value.replace(' ', 'T')
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(withT)
  const d = new Date(zoned || zone === 'local' ? withT : `${withT}Z`)
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}

/** A filter's instant as the operator reads it, in the zone chosen; as given when it is not a time. */
export function filterText(iso) {
  return iso && !Number.isNaN(Date.parse(iso)) ? isoText(Date.parse(iso)) : (iso ?? '')
}
