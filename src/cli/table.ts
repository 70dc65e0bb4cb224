// Text for people: aligned columns, times, and data from events made safe to print. Event bodies,
// errors and answers come from strangers: a control character in them must not reach the terminal
// as one (an escape sequence can rewrite the screen, set the title, or hide the line it is in).

/** C0 and C1 controls, DEL, and the bidirectional marks and overrides that can reorder a line. */
function unsafe(code: number, keepLines: boolean): boolean {
  if (keepLines && (code === 0x0a || code === 0x09)) return false
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  )
}

function replaceUnsafe(text: string, keepLines: boolean, shown: (code: number) => string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (!unsafe(code, keepLines)) continue
    out += text.slice(from, i) + shown(code)
    from = i + 1
  }
  return from === 0 ? text : out + text.slice(from)
}

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, '0')

function escaped(code: number): string {
  if (code === 0x0a) return '\\n'
  if (code === 0x09) return '\\t'
  if (code === 0x0d) return '\\r'
  return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`
}

/** One line of text as data: every control character (line breaks too) shown escaped. */
export function clean(text: string): string {
  return replaceUnsafe(text, false, escaped)
}

/** Text of several lines as data: line breaks and tabs kept, every other control shown escaped. */
export function cleanBlock(text: string): string {
  return replaceUnsafe(text, true, escaped)
}

/** JSON for scripts: one document, the characters a terminal could act on escaped (still the same JSON). */
export function safeJson(value: unknown): string {
  // Outside strings JSON.stringify writes only line breaks and spaces, which this keeps.
  return replaceUnsafe(JSON.stringify(value, null, 2), true, (code) => `\\u${hex(code, 4)}`)
}

/** The first line of a text, cut to `max` characters, as data. */
export function excerpt(text: string | null | undefined, max = 60): string {
  if (text === null || text === undefined) return ''
  const first = text.trim().split(/\r?\n/, 1)[0] ?? ''
  const cut = first.length > max ? `${first.slice(0, max - 1)}…` : first
  return clean(cut)
}

/** Aligned columns, two spaces apart; the last column is not padded. Cells are cleaned here. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const cells = rows.map((row) => row.map(clean))
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  )
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...cells.map(line)]
}

/** An instant (ms since the epoch) as ISO 8601 UTC, to the second; '-' when there is none. */
export function iso(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-'
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A length of time for people: `45s`, `3m 20s`, `2h 5m`, `3d 4h`. */
export function span(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
}
