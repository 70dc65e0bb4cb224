// Ingest: how fast the relay takes WhatsGate events (validated, committed with fsync, answered)
// next to a bare Fastify route that only parses the JSON. Rounds alternate so drift hits both.

import { startBare } from './bare.ts'
import { type IdSource, type LoadResult, runLoad } from './load.ts'
import {
  foreignLoadWarning,
  median,
  type RssReport,
  sampleForeignCpu,
  sampleRss,
  waitForIdle,
} from './measure.ts'
import { countStored, type Relay, type StoredCount, startRelay } from './relay.ts'
import { fmt, markdownTable } from './support.ts'

export interface IngestOptions {
  seconds: number
  warmupSeconds: number
  rounds: number
  connections: number
}

type Server = 'bare' | 'relay'

const CLEAN_ROUND_CORES = 0.2

export interface IngestRound {
  server: Server
  round: number
  load: LoadResult
  rss: RssReport
  /** Cores used meanwhile by processes that are not the bench's. */
  foreignCores: number
}

export interface IngestReport {
  options: IngestOptions
  rounds: IngestRound[]
  relayAcked: number
  relaySent: number
  relayRuns: number
  relayAckIds: Set<number>
  relayWrongAckIds: number
  stored: StoredCount | { error: string }
  relayHwmMb: number
  bareHwmMb: number
  relayLogLines: number
  relayLogTail: string[]
}

export async function runIngest(options: IngestOptions): Promise<IngestReport> {
  const ids: IdSource = { next: 1 }
  const bare = await startBare()
  let relay: Relay | undefined
  try {
    relay = await startRelay()
    const target: Record<Server, { url: string; pid: number }> = {
      bare: { url: bare.url, pid: bare.child.pid },
      relay: { url: relay.ingestUrl, pid: relay.child.pid },
    }
    const relayAckIds = new Set<number>()
    let relayAcked = 0
    let relaySent = 0
    let relayRuns = 0
    let relayWrongAckIds = 0
    const round = async (server: Server, seconds: number) => {
      await waitForIdle(`the ${server} round`)
      const rss = sampleRss(target[server].pid)
      const foreign = sampleForeignCpu()
      const load = await runLoad({
        url: target[server].url,
        seconds,
        connections: options.connections,
        ids,
        onAck: server === 'relay' ? (id) => relayAckIds.add(id) : undefined,
      })
      if (server === 'relay') {
        relayAcked += load.ok
        relaySent += load.sent
        relayRuns++
        relayWrongAckIds += load.wrongAckIds
      }
      return { load, rss: rss.stop(), foreignCores: foreign.stop() }
    }

    process.stderr.write(`ingest: warm-up ${options.warmupSeconds} s each\n`)
    await round('bare', options.warmupSeconds)
    await round('relay', options.warmupSeconds)
    const rounds: IngestRound[] = []
    for (let n = 1; n <= options.rounds; n++) {
      for (const server of ['bare', 'relay'] as const) {
        process.stderr.write(`ingest: round ${n}/${options.rounds} ${server} ${options.seconds} s\n`)
        const result = await round(server, options.seconds)
        rounds.push({ server, round: n, ...result })
        process.stderr.write(
          `  ${fmt.int(result.load.rps)} req/s, p99 ${fmt.ms(result.load.latency.percentile(99))} ms, RSS ${fmt.mb(result.rss.peakMb)} MiB\n`,
        )
      }
    }

    const relayHwmMb = sampleRss(relay.child.pid).stop().hwmMb
    const bareHwmMb = sampleRss(bare.child.pid).stop().hwmMb
    await bare.child.stop()
    // A clean stop first: the count must hold for what the relay acknowledged, not for what a
    // still-running process might hold in memory.
    await relay.child.stop()
    let stored: IngestReport['stored']
    try {
      stored = countStored(relay.dataDir)
    } catch (error) {
      stored = { error: error instanceof Error ? error.message : String(error) }
    }
    return {
      options,
      rounds,
      relayAcked,
      relaySent,
      relayRuns,
      relayAckIds,
      relayWrongAckIds,
      stored,
      relayHwmMb,
      bareHwmMb,
      relayLogLines: relay.child.logLineCount(),
      relayLogTail: relay.child.logTail(),
    }
  } finally {
    await bare.child.stop(2000)
    await relay?.child.stop(5000)
  }
}

export function formatIngest(report: IngestReport): string {
  const { options, rounds } = report
  const perRound = markdownTable(
    [
      'server',
      'round',
      'req/s',
      'p50 ms',
      'p99 ms',
      'non-2xx',
      'errors',
      'peak RSS MiB',
      'other CPU (cores)',
    ],
    rounds.map(({ server, round, load, rss, foreignCores }) => [
      server === 'bare' ? 'bare Fastify' : 'relay',
      String(round),
      fmt.int(load.rps),
      fmt.ms(load.latency.percentile(50)),
      fmt.ms(load.latency.percentile(99)),
      String(load.non2xx),
      String(load.errors + load.timeouts),
      fmt.mb(rss.peakMb),
      foreignCores.toFixed(2),
    ]),
  )
  const of = (server: Server) => rounds.filter((r) => r.server === server)
  // A round shared with another process's CPU load says little; leave it out when clean ones exist.
  const clean = (server: Server) => {
    const quiet = of(server).filter((r) => r.foreignCores < CLEAN_ROUND_CORES)
    return quiet.length > 0 ? quiet : of(server)
  }
  const summary = (server: Server) => ({
    rps: median(clean(server).map((r) => r.load.rps)),
    p50: median(clean(server).map((r) => r.load.latency.percentile(50))),
    p99: median(clean(server).map((r) => r.load.latency.percentile(99))),
  })
  const bare = summary('bare')
  const relay = summary('relay')
  const summaryTable = markdownTable(
    ['server', 'req/s', 'p50 ms', 'p99 ms', 'peak RSS MiB (VmHWM)'],
    [
      [
        'bare Fastify (parse + answer)',
        fmt.int(bare.rps),
        fmt.ms(bare.p50),
        fmt.ms(bare.p99),
        fmt.mb(report.bareHwmMb),
      ],
      [
        'relay (validate + commit + answer)',
        fmt.int(relay.rps),
        fmt.ms(relay.p50),
        fmt.ms(relay.p99),
        fmt.mb(report.relayHwmMb),
      ],
      [
        'relay / bare',
        fmt.ratio(relay.rps / bare.rps),
        fmt.ratio(relay.p50 / bare.p50),
        fmt.ratio(relay.p99 / bare.p99),
        fmt.ratio(report.relayHwmMb / report.bareHwmMb),
      ],
    ],
  )
  const relayNon2xx = of('relay').reduce((sum, r) => sum + r.load.non2xx, 0)
  const relayErrors = of('relay').reduce((sum, r) => sum + r.load.errors + r.load.timeouts, 0)
  const lines = [
    ...foreignLoadWarning(rounds.map((r) => r.foreignCores)),
    `### Ingest (${options.connections} connections, ${options.rounds} rounds of ${options.seconds} s each; medians of ` +
      (rounds.every((r) => r.foreignCores < CLEAN_ROUND_CORES)
        ? 'all rounds)'
        : `the rounds with other CPU < ${CLEAN_ROUND_CORES} cores: ${clean('bare').length} bare, ${clean('relay').length} relay, or all if none)`),
    '',
    summaryTable,
    '',
    perRound,
    '',
    `Relay non-2xx answers: ${relayNon2xx}, connection errors/timeouts: ${relayErrors} -> ${relayNon2xx === 0 && relayErrors === 0 ? 'OK' : 'FAIL'}`,
  ]
  if ('error' in report.stored) {
    lines.push(`Stored check: FAIL, could not read the relay's store: ${report.stored.error}`)
  } else {
    // A timed run ends with one request in flight per connection: sent (maybe stored), never answered.
    const { events, deliveries, ids } = report.stored
    let ackedMissing = 0
    for (const id of report.relayAckIds) if (!ids.has(id)) ackedMissing++
    const cutOff = events - (report.relayAcked - ackedMissing)
    const maxCutOff = report.relaySent - report.relayAcked
    const ok =
      ackedMissing === 0 &&
      report.relayAckIds.size === report.relayAcked &&
      cutOff >= 0 &&
      cutOff <= maxCutOff
    lines.push(
      `Stored check: ${fmt.int(report.relayAcked)} answers 200 (warm-up included) for ${fmt.int(report.relayAckIds.size)} distinct ids, ` +
        `${fmt.int(ackedMissing)} of them missing from events; events has ${fmt.int(events)} rows` +
        `${deliveries === null ? '' : ` (${fmt.int(deliveries)} deliveries)`} = the 200s + ${fmt.int(cutOff)} of the ` +
        `${fmt.int(maxCutOff)} requests cut off unanswered when a run stopped -> ${ok ? 'OK' : 'MISMATCH'}`,
    )
  }
  if (report.relayWrongAckIds > 0)
    lines.push(`Relay answered another id than it was sent: ${report.relayWrongAckIds} times`)
  if (report.relayLogLines > 0)
    lines.push(
      `Relay wrote ${report.relayLogLines} log lines at LOG_LEVEL=warn (last: ${report.relayLogTail.at(-1)})`,
    )
  return lines.join('\n')
}
