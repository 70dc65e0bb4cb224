// Ingest: how fast the relay takes WhatsGate events (validated, committed with fsync, answered)
// next to a bare Fastify route that only parses the JSON. Rounds alternate so drift hits both.
import { autocannonLoad, type LoadResult } from './harness/load.ts'
import { measured, median, peakRssMb } from './harness/measure.ts'
import { commonSettings, envNumber } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable, relayLogNote } from './harness/report.ts'
import { countStored, startBare, startRelay } from './harness/servers.ts'

type Server = 'bare' | 'relay'

const CLEAN_ROUND_CORES = 0.2

interface Round {
  server: Server
  /** 0 for the warm-up. */
  round: number
  load: LoadResult
  peakRssMb: number
  /** Cores used meanwhile by processes that are not the bench's. */
  foreignCores: number
}

/** Runs the benchmark; gives its markdown. */
export async function ingest(): Promise<string> {
  const { seconds, warmupSeconds, connections } = commonSettings()
  const roundCount = envNumber('BENCH_ROUNDS', 2)
  const ids = { next: 1 }
  const rounds: Round[] = []
  const relayAckIds = new Set<number>()
  const bare = await startBare()
  const relay = await startRelay()
  let stored: ReturnType<typeof countStored> | { error: string }
  let hwmMb: Record<Server, number>
  try {
    const round = async (server: Server, n: number, duration: number) => {
      const { child, url } = server === 'relay' ? relay : bare
      const onAck = server === 'relay' ? (id: number) => relayAckIds.add(id) : undefined
      const { result: load, ...measures } = await measured(`the ${server} round`, [child.pid], () =>
        autocannonLoad({ url, seconds: duration, connections, ids, onAck }),
      )
      rounds.push({ server, round: n, load, ...measures })
      return { load, ...measures }
    }
    process.stderr.write(`ingest: warm-up ${warmupSeconds} s each\n`)
    await round('bare', 0, warmupSeconds)
    await round('relay', 0, warmupSeconds)
    for (let n = 1; n <= roundCount; n++) {
      for (const server of ['bare', 'relay'] as const) {
        process.stderr.write(`ingest: round ${n}/${roundCount} ${server} ${seconds} s\n`)
        const { load, peakRssMb } = await round(server, n, seconds)
        const p99 = load.latency.percentile(99)
        process.stderr.write(
          `  ${fmt.int(load.rps)} req/s, p99 ${fmt.ms(p99)} ms, RSS ${fmt.mb(peakRssMb)} MiB\n`,
        )
      }
    }
    hwmMb = { relay: peakRssMb(relay.child.pid), bare: peakRssMb(bare.child.pid) }
    await bare.child.stop()
    // A clean stop first: the count must hold for what the relay acknowledged, not for what a
    // still-running process might hold in memory.
    await relay.child.stop()
    try {
      stored = countStored(relay.dataDir)
    } catch (error) {
      stored = { error: error instanceof Error ? error.message : String(error) }
    }
  } finally {
    await bare.child.stop(2000)
    await relay.child.stop(5000)
  }

  const measuredRounds = rounds.filter((r) => r.round > 0)
  const of = (server: Server, all = measuredRounds) => all.filter((r) => r.server === server)
  // A round shared with another process's CPU load says little; leave it out when clean ones exist.
  const clean = (server: Server) => {
    const quiet = of(server).filter((r) => r.foreignCores < CLEAN_ROUND_CORES)
    return quiet.length > 0 ? quiet : of(server)
  }
  const summary = (server: Server) => {
    const medianOf = (value: (r: Round) => number) => median(clean(server).map(value))
    return {
      rps: medianOf((r) => r.load.rps),
      p50: medianOf((r) => r.load.latency.percentile(50)),
      p99: medianOf((r) => r.load.latency.percentile(99)),
      hwm: hwmMb[server],
    }
  }
  const [bareMedians, relayMedians] = [summary('bare'), summary('relay')]
  const row = (label: string, s: typeof bareMedians) => [
    label,
    fmt.int(s.rps),
    fmt.ms(s.p50),
    fmt.ms(s.p99),
    fmt.mb(s.hwm),
  ]
  const ratio = (key: keyof typeof bareMedians) => fmt.ratio(relayMedians[key] / bareMedians[key])
  const sum = (value: (r: Round) => number, among = of('relay')) => among.reduce((n, r) => n + value(r), 0)
  const relayNon2xx = sum((r) => r.load.non2xx)
  const relayErrors = sum((r) => r.load.errors)
  // Warm-up included from here on: every answer the relay gave counts for the stored check.
  const relayAcked = sum((r) => r.load.ok, of('relay', rounds))
  const wrongAckIds = sum((r) => r.load.wrongAckIds, of('relay', rounds))
  const medians = measuredRounds.every((r) => r.foreignCores < CLEAN_ROUND_CORES)
    ? 'all rounds)'
    : `the rounds with other CPU < ${CLEAN_ROUND_CORES} cores: ${clean('bare').length} bare, ${clean('relay').length} relay, or all if none)`
  return [
    ...foreignLoadWarning(measuredRounds.map((r) => r.foreignCores)),
    `### Ingest (${connections} connections, ${roundCount} rounds of ${seconds} s each; medians of ${medians}`,
    '',
    markdownTable(
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'peak RSS MiB (VmHWM)'],
      [
        row('bare Fastify (parse + answer)', bareMedians),
        row('relay (validate + commit + answer)', relayMedians),
        ['relay / bare', ratio('rps'), ratio('p50'), ratio('p99'), ratio('hwm')],
      ],
    ),
    '',
    markdownTable(
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
      measuredRounds.map(({ server, round, load, peakRssMb, foreignCores }) => [
        server === 'bare' ? 'bare Fastify' : 'relay',
        String(round),
        fmt.int(load.rps),
        fmt.ms(load.latency.percentile(50)),
        fmt.ms(load.latency.percentile(99)),
        String(load.non2xx),
        String(load.errors),
        fmt.mb(peakRssMb),
        foreignCores.toFixed(2),
      ]),
    ),
    '',
    `Relay non-2xx answers: ${relayNon2xx}, connection errors/timeouts: ${relayErrors} -> ${relayNon2xx === 0 && relayErrors === 0 ? 'OK' : 'FAIL'}`,
    storedCheck(
      stored,
      relayAcked,
      sum((r) => r.load.sent, of('relay', rounds)),
      relayAckIds,
    ),
    ...(wrongAckIds > 0 ? [`Relay answered another id than it was sent: ${wrongAckIds} times`] : []),
    ...relayLogNote([relay.child]),
  ].join('\n')
}

/** Every answered id is in the store, and at most the requests cut off unanswered more. */
function storedCheck(
  stored: ReturnType<typeof countStored> | { error: string },
  acked: number,
  sent: number,
  ackIds: Set<number>,
): string {
  if ('error' in stored) return `Stored check: FAIL, could not read the relay's store: ${stored.error}`
  // A timed run ends with one request in flight per connection: sent (maybe stored), never answered.
  let ackedMissing = 0
  for (const id of ackIds) if (!stored.ids.has(id)) ackedMissing++
  const cutOff = stored.events - (acked - ackedMissing)
  const maxCutOff = sent - acked
  const ok = ackedMissing === 0 && ackIds.size === acked && cutOff >= 0 && cutOff <= maxCutOff
  return (
    `Stored check: ${fmt.int(acked)} answers 200 (warm-up included) for ${fmt.int(ackIds.size)} distinct ids, ` +
    `${fmt.int(ackedMissing)} of them missing from events; events has ${fmt.int(stored.events)} rows` +
    ` (${fmt.int(stored.deliveries)} deliveries) = the 200s + ${fmt.int(cutOff)} of the ` +
    `${fmt.int(maxCutOff)} requests cut off unanswered when a run stopped -> ${ok ? 'OK' : 'MISMATCH'}`
  )
}
