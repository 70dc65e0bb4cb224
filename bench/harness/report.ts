// The markdown the benchmarks print, ready for the README.
import { cpus } from 'node:os'
import type { Child } from './process.ts'

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : 'n/a'),
  mb: (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a'),
  ratio: (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/** A warning (and a blank line) above a table whose runs shared the machine with other work. */
export function foreignLoadWarning(foreignCores: number[]): string[] {
  const worst = Math.max(0, ...foreignCores)
  if (worst < 0.2) return []
  return [
    `> WARNING: other processes used up to ${worst.toFixed(2)} cores (of ${cpus().length}) during these runs; ` +
      'the figures below are low and noisy. Re-run on an idle machine.',
    '',
  ]
}

/** At LOG_LEVEL=warn the relay should say nothing; a line if it did. */
export function relayLogNote(relays: Child[]): string[] {
  const lines = relays.reduce((sum, relay) => sum + relay.log.lines, 0)
  if (lines === 0) return []
  return [
    `Relay wrote ${lines} log lines at LOG_LEVEL=warn (last: ${relays.flatMap((r) => r.log.tail).at(-1)})`,
  ]
}
