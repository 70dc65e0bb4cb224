// How far a long operation is, on stderr: a bar redrawn in place on a terminal, else one line per
// step (a log or a pipe would keep every redraw). stdout stays for the result.
import type { Output } from './output.ts'

const WIDTH = 30

export interface Progress {
  update(done: number): void
  /** Ends the bar's line (a terminal's cursor would otherwise stay on it). */
  end(): void
}

export function createProgress(io: Output, label: string, total: number): Progress {
  let drawn = false
  return {
    update(done) {
      const ratio = total === 0 ? 1 : Math.min(1, done / total)
      const counts = `${done}/${total}`
      if (io.progress) {
        const filled = Math.round(ratio * WIDTH)
        const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`
        io.progress(`${label} [${bar}] ${counts} ${String(Math.floor(ratio * 100)).padStart(3)}%`)
        drawn = true
      } else {
        io.err(`${label}: ${counts}`)
      }
    },
    end() {
      if (drawn) io.progress?.(null)
      drawn = false
    },
  }
}
