// What the benchmarks measure besides the load generator's own figures: memory of a process, CPU
// taken by processes outside the benchmark, and latency distributions.
import { readFileSync } from 'node:fs'
import { createHistogram } from 'node:perf_hooks'
import { childPids, envNumber, nowMs, sleep } from './process.ts'

function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(
      new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'),
    )
    return match?.[1] ? Number(match[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/** The process's lifetime peak RSS (VmHWM), MiB. */
export const peakRssMb = (pid: number) => procStatusMb(pid, 'VmHWM')
/** Resident memory now, MiB. */
export const rssMb = (pid: number) => procStatusMb(pid, 'VmRSS')

/** Samples VmRSS of each of `pids` every 100 ms; `stop` gives the highest any of them reached, MiB. */
function sampleRss(pids: number[]): { stop: () => number } {
  const largest = () => Math.max(...pids.map((pid) => procStatusMb(pid, 'VmRSS')))
  let peak = largest()
  const sample = () => {
    peak = Math.max(peak, largest())
  }
  const timer = setInterval(sample, 100)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return peak
    },
  }
}

/** /proc counts CPU time in USER_HZ, 100 on Linux. */
const TICKS_PER_SECOND = 100

function cpuTicksOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

const cpuTicksOfAll = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuTicksOf(pid), 0)

/** Bytes the process has had written to files (write_bytes of /proc/<pid>/io: its WAL, its database). */
function writtenBytesOf(pid: number): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

const writtenBytesOfAll = (pids: number[]) => pids.reduce((sum, pid) => sum + writtenBytesOf(pid), 0)

function machineBusyTicks(): number {
  const text = readFileSync('/proc/stat', 'utf8')
  // irq and softirq are left out: loopback traffic of the bench itself is accounted there.
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = text
    .slice(0, text.indexOf('\n'))
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return user + nice + system + steal
}

/**
 * CPU used during a run by everything that is not this bench or its children, in cores. This
 * machine has 2 cores: another process's test run silently halves what is measured here.
 */
export function sampleForeignCpu(): { stop: () => number } {
  const ownTicks = () => cpuTicksOfAll([process.pid, ...childPids()])
  const busy0 = machineBusyTicks()
  const own0 = ownTicks()
  const t0 = nowMs()
  return {
    stop: () => {
      const foreign = machineBusyTicks() - busy0 - (ownTicks() - own0)
      return Math.max(0, foreign / TICKS_PER_SECOND / ((nowMs() - t0) / 1000))
    },
  }
}

/**
 * Waits (up to BENCH_IDLE_WAIT seconds, default 30) until other processes leave the machine
 * alone, so that a colleague's test run does not end up in the figures.
 */
export async function waitForIdle(what: string): Promise<void> {
  const maxSeconds = envNumber('BENCH_IDLE_WAIT', 30)
  const deadline = nowMs() + maxSeconds * 1000
  for (let announced = false; ; announced = true) {
    const probe = sampleForeignCpu()
    await sleep(500)
    const load = probe.stop()
    if (load < 0.15) return
    if (nowMs() > deadline) {
      process.stderr.write(`bench: still ${load.toFixed(2)} cores of other load; measuring ${what} anyway\n`)
      return
    }
    if (!announced) {
      process.stderr.write(
        `bench: other processes use ${load.toFixed(2)} cores; waiting up to ${maxSeconds} s for an idle machine before ${what}\n`,
      )
    }
  }
}

/**
 * One measured run: waits for an idle machine, then runs `run` while sampling the peak RSS of
 * `pids` (the largest single process: replicas each hold their own), the CPU time they used
 * together (user + system; NaN without pids) and the bytes they wrote to files, and the CPU of
 * processes outside the bench.
 */
export async function measured<T>(
  what: string,
  pids: number[],
  run: () => Promise<T>,
): Promise<{ result: T; peakRssMb: number; cpuSeconds: number; writtenBytes: number; foreignCores: number }> {
  await waitForIdle(what)
  const rss = pids.length === 0 ? undefined : sampleRss(pids)
  const ticksBefore = pids.length === 0 ? Number.NaN : cpuTicksOfAll(pids)
  const writtenBefore = pids.length === 0 ? Number.NaN : writtenBytesOfAll(pids)
  const foreign = sampleForeignCpu()
  const result = await run()
  const cpuSeconds = (cpuTicksOfAll(pids) - ticksBefore) / TICKS_PER_SECOND
  const writtenBytes = writtenBytesOfAll(pids) - writtenBefore
  return {
    result,
    peakRssMb: rss?.stop() ?? Number.NaN,
    cpuSeconds,
    writtenBytes,
    foreignCores: foreign.stop(),
  }
}

/** Latencies in ms, kept at microsecond resolution. */
export function latencyHistogram() {
  const histogram = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 })
  return {
    histogram,
    record: (ms: number) => histogram.record(Math.max(1, Math.round(ms * 1000))),
    percentile: (p: number) => (histogram.count === 0 ? Number.NaN : histogram.percentile(p) / 1000),
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
