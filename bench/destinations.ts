// Destinations: for each broker kind, events delivered per second through the relay (ingest, the
// SQLite outbox, the dispatcher, the kind's sender) against that broker's own client publishing
// the same bodies with the same confirmation, in one run. The relay's share should be at least half.
import { publishLoop, settle } from './harness/broker-load.ts'
import {
  type Arrived,
  BROKER_KINDS,
  BROKERS,
  type Broker,
  type BrokerKind,
  type Destination,
  openBroker,
  unreachable,
} from './harness/brokers.ts'
import { autocannonLoad, type IdSource, undiciLoad } from './harness/load.ts'
import { measured } from './harness/measure.ts'
import { commonSettings, envNumber, nowMs } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable, relayLogNote } from './harness/report.ts'
import { type Relay, startRelay } from './harness/servers.ts'

const TARGET_RATIO = 0.5

interface Settings {
  seconds: number
  warmupSeconds: number
  connections: number
  drainSeconds: number
  lowRate: number
  /** Publishes the baseline keeps in flight: a target's default `concurrency`, the relay's cap. */
  inFlight: number
  ids: IdSource
}

/** The kinds BENCH_BROKERS names (comma-separated), or all four. */
function selectedKinds(): BrokerKind[] {
  const raw = process.env.BENCH_BROKERS?.trim()
  if (!raw) return [...BROKER_KINDS]
  const names = raw.split(',').map((name) => name.trim())
  const unknown = names.filter((name) => !(BROKER_KINDS as readonly string[]).includes(name))
  if (unknown.length > 0)
    throw new Error(`BENCH_BROKERS: unknown kind ${unknown.join(', ')}; use ${BROKER_KINDS.join(', ')}`)
  return BROKER_KINDS.filter((kind) => names.includes(kind))
}

/** The broker's own client, warm-up first; then whether what it confirmed is all at the broker. */
async function baselineRun(kind: BrokerKind, destination: Destination, settings: Settings) {
  const publisher = await destination.publisher()
  try {
    const { ids, warmupSeconds, seconds, inFlight } = settings
    process.stderr.write(
      `destinations: ${kind} client, ${inFlight} in flight, warm-up ${warmupSeconds} s, then ${seconds} s\n`,
    )
    const warm = await publishLoop(publisher, ids, inFlight, warmupSeconds)
    const { result, foreignCores } = await measured(`the ${kind} client`, [], () =>
      publishLoop(publisher, ids, inFlight, seconds),
    )
    const confirmed = warm.confirmed + result.confirmed
    const { count } = await settle(destination, confirmed, 10)
    process.stderr.write(`  ${fmt.int(result.rate)} confirmed/s\n`)
    return {
      ...result,
      foreignCores,
      confirmedInAll: confirmed,
      atBroker: count,
      shortfall: destination.shortfall,
    }
  } finally {
    await publisher.close()
  }
}

type Baseline = Awaited<ReturnType<typeof baselineRun>>

/** The relay under max-rate load, its events counted where they land, after a bounded drain. */
async function relayRun(kind: BrokerKind, relay: Relay, destination: Destination, settings: Settings) {
  const { ids, seconds, warmupSeconds, connections, drainSeconds, lowRate } = settings
  process.stderr.write(
    `destinations: relay -> ${kind}, warm-up ${warmupSeconds} s at ${fmt.int(lowRate)}/s\n`,
  )
  // Paced, as the pipeline's warm-up: the relay's JIT and its connection to the broker, no backlog.
  const warm = await undiciLoad({ url: relay.url, rate: lowRate, seconds: warmupSeconds, connections, ids })
  const warmArrived = (await settle(destination, warm.ok, drainSeconds)).count

  process.stderr.write(`destinations: relay -> ${kind}, ${connections} connections, ${seconds} s\n`)
  const firstId = ids.next
  const acked = new Set<number>()
  const { result, peakRssMb, foreignCores } = await measured(
    `the relay to ${kind}`,
    [relay.child.pid],
    async () => {
      const before = await destination.count()
      const loadStart = nowMs()
      const onAck = (id: number) => acked.add(id)
      const load = await autocannonLoad({ url: relay.url, seconds, connections, ids, onAck })
      const loadEnd = nowMs()
      const atLoadEnd = (await destination.count()) - before
      const drained = await settle(destination, before + acked.size, drainSeconds)
      return { load, loadStart, loadEnd, atLoadEnd, lastArrival: drained.changedAt }
    },
  )
  const arrived = await destination.arrived()
  const tally = tallyRun(arrived, firstId, acked)
  const windowSeconds = (result.lastArrival - result.loadStart) / 1000
  const deliveredPerSec = tally.delivered / windowSeconds
  process.stderr.write(
    `  ingest ${fmt.int(result.load.rps)}/s, delivered ${fmt.int(deliveredPerSec)}/s, ` +
      `${fmt.int(tally.missing)} acked events missing\n`,
  )
  return {
    load: result.load,
    acked: acked.size,
    ...tally,
    /** Warm-up events still on their way when the run started (they count in the broker's total, not in delivered). */
    warmUpLeft: Math.max(0, warm.ok - warmArrived),
    deliveredPerSec,
    backlogAtEnd: Math.max(0, acked.size - result.atLoadEnd),
    drainSeconds: Math.max(0, (result.lastArrival - result.loadEnd) / 1000),
    peakRssMb,
    foreignCores,
  }
}

type RelayResult = Awaited<ReturnType<typeof relayRun>>

/** This run's events among what arrived (ids from `firstId` on), against the ids the relay acked. */
function tallyRun(arrived: Arrived, firstId: number, acked: Set<number>) {
  const seen = new Set<number>()
  let duplicates = 0
  for (const id of arrived.ids) {
    if (!(id >= firstId)) continue
    if (seen.has(id)) duplicates++
    else seen.add(id)
  }
  let missing = 0
  for (const id of acked) if (!seen.has(id)) missing++
  return {
    /** Distinct events of this run at the broker, the unanswered ones of the load's stop included. */
    delivered: seen.size,
    missing,
    /** Sent when the load stopped, never answered, yet stored and delivered. */
    unanswered: seen.size - (acked.size - missing),
    duplicates,
    altered: arrived.altered,
  }
}

type KindResult =
  | { kind: BrokerKind; skipped: string }
  | { kind: BrokerKind; baseline: Baseline; relay: RelayResult; relays: Relay[] }

async function benchKind(kind: BrokerKind, settings: Settings): Promise<KindResult> {
  const reason = await unreachable(kind)
  if (reason) {
    process.stderr.write(`destinations: skipping ${kind}: ${reason}\n`)
    return { kind, skipped: reason }
  }
  let broker: Broker | undefined
  let relay: Relay | undefined
  try {
    broker = await openBroker(kind)
    const baseline = await baselineRun(kind, await broker.destination('baseline'), settings)
    const destination = await broker.destination('relay')
    relay = await startRelay({ target: destination.target })
    const result = await relayRun(kind, relay, destination, settings)
    return { kind, baseline, relay: result, relays: [relay] }
  } catch (error) {
    // One broker's trouble is that row's, not the end of the others'.
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`destinations: ${kind} failed: ${error instanceof Error ? error.stack : message}\n`)
    return { kind, skipped: `failed: ${message.split('\n')[0]}` }
  } finally {
    await relay?.child.stop(5000)
    await broker?.close().catch((error: unknown) => {
      process.stderr.write(`destinations: cleaning up ${kind} failed: ${String(error)}\n`)
    })
  }
}

/** Runs the benchmark; gives its markdown. */
export async function destinations(): Promise<string> {
  const settings: Settings = {
    ...commonSettings(),
    drainSeconds: envNumber('BENCH_DRAIN_SECONDS', 30),
    lowRate: envNumber('BENCH_LOW_RATE', 1000),
    inFlight: envNumber('BENCH_BROKER_IN_FLIGHT', 64),
    ids: { next: 1 },
  }
  const results: KindResult[] = []
  for (const kind of selectedKinds()) results.push(await benchKind(kind, settings))
  const measuredRuns = results.flatMap((r) => ('baseline' in r ? [r] : []))
  const { seconds, connections, inFlight } = settings
  return [
    ...foreignLoadWarning(measuredRuns.flatMap((r) => [r.baseline.foreignCores, r.relay.foreignCores])),
    `### Destinations (the relay with one broker target under ${connections} connections at max rate, ` +
      `against the broker's own client with ${inFlight} publishes in flight; ${seconds} s per run)`,
    '',
    table(results),
    '',
    `Target: per kind, the relay delivers >= ${TARGET_RATIO * 100} % of what the broker's own client ` +
      `publishes with the same confirmation. The client keeps ${inFlight} in flight (BENCH_BROKER_IN_FLIGHT): ` +
      "a target's default `concurrency`, the cap of the relay's adaptive limit, which starts at 8.",
    ...results.map((r) => checks(r, seconds)),
    ...relayLogNote(measuredRuns.flatMap((r) => r.relays.map((relay) => relay.child))),
  ].join('\n')
}

function table(results: KindResult[]): string {
  const headers = ['kind', 'broker', 'client ev/s', 'relay ingest req/s', 'relay delivered ev/s', 'ratio']
  headers.push('>= 0.5', 'acked -> arrived', 'backlog at end of load', 'drain s', 'relay peak RSS MiB')
  headers.push('other CPU (cores)')
  return markdownTable(
    headers,
    results.map((r) => {
      const broker = BROKERS[r.kind].name
      if ('skipped' in r) return [r.kind, broker, r.skipped, ...headers.slice(3).map(() => '-')]
      const { baseline, relay } = r
      const ratio = relay.deliveredPerSec / baseline.rate
      return [
        r.kind,
        broker,
        fmt.int(baseline.rate),
        fmt.int(relay.load.rps),
        fmt.int(relay.deliveredPerSec),
        fmt.ratio(ratio),
        ratio >= TARGET_RATIO ? 'PASS' : 'FAIL',
        `${fmt.int(relay.acked)} -> ${fmt.int(relay.acked - relay.missing)}`,
        fmt.int(relay.backlogAtEnd),
        relay.drainSeconds.toFixed(1),
        fmt.mb(relay.peakRssMb),
        Math.max(baseline.foreignCores, relay.foreignCores).toFixed(2),
      ]
    }),
  )
}

function checks(r: KindResult, seconds: number): string {
  if ('skipped' in r) return `${r.kind}: not measured (${r.skipped})`
  const { baseline: b, relay: p } = r
  const clientProblems = [
    b.failed > 0 && `${fmt.int(b.failed)} publishes failed (first: ${b.firstError})`,
    b.atBroker !== b.confirmedInAll &&
      `${fmt.int(b.confirmedInAll)} confirmed, ${fmt.int(b.atBroker)} counted` +
        (b.atBroker < b.confirmedInAll && b.shortfall ? ` (${b.shortfall})` : ''),
  ].filter(Boolean)
  const relayProblems = [
    p.missing > 0 && `${fmt.int(p.missing)} acked events not at the broker within the drain limit`,
    p.duplicates > 0 && `${fmt.int(p.duplicates)} duplicates`,
    p.altered > 0 && `${fmt.int(p.altered)} bodies not byte for byte the sent event`,
    p.warmUpLeft > 0 && `${fmt.int(p.warmUpLeft)} warm-up events still undelivered when the run started`,
    p.load.non2xx + p.load.errors > 0 && `${p.load.non2xx} non-2xx / ${p.load.errors} errors at ingest`,
  ].filter(Boolean)
  const client = clientProblems.length
    ? clientProblems.join('; ')
    : `all ${fmt.int(b.confirmedInAll)} confirmed at the broker`
  const relay = relayProblems.length ? relayProblems.join('; ') : 'every acked event arrived, once, unaltered'
  const unanswered = p.unanswered > 0 ? ` (and ${p.unanswered} sent as the load stopped, never answered)` : ''
  // A backlog gone soon after the load stopped: the relay delivered as fast as it took events in,
  // so its ingest set the rate, not its sender.
  const cleared = `cleared ${p.drainSeconds.toFixed(1)} s after the load stopped`
  const bound =
    p.drainSeconds <= Math.max(1, 0.1 * seconds)
      ? ` Delivery kept up with ingest (backlog ${cleared}): ingest set the rate.`
      : ` Delivery fell behind ingest (${fmt.int(p.backlogAtEnd)} waiting, ${cleared}): the sender or the broker held it back.`
  return `${r.kind}: client: ${client}. Relay: ${fmt.int(p.acked)} acked, ${relay}${unanswered}.${bound}`
}
