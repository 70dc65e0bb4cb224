// Pipeline: WhatsGate-like load into the relay, forwarded to one local sink. Measures how fast
// events come out the other side and how long each takes from the relay's 200 to the sink,
// against the forwarding limit (a bare undici client posting the same bodies to the same sink),
// a bare forwarder (Fastify + undici, no store) and the durable floor (durable-floor.ts: an
// append file synced per group, then one post) under the same loads as the relay.
import { BENCH_SESSION, eventKey } from './harness/event.ts'
import { autocannonLoad, type IdSource, type LoadResult, splitLoad, undiciLoad } from './harness/load.ts'
import { latencyHistogram, measured } from './harness/measure.ts'
import { freshSchema } from './harness/postgres-schema.ts'
import { commonSettings, envNumber, nowMs, sleep } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable, relayLogNote } from './harness/report.ts'
import {
  type Relay,
  type Sink,
  startBare,
  startDurableFloor,
  startRelay,
  startSink,
  type Target,
} from './harness/servers.ts'

type PhaseKind = 'low' | 'max' | 'latency' | 'forwarder' | 'forwarder-low' | 'floor' | 'floor-low'
/** A load split over `urls`, the replicas of the server under test. */
type Load = (urls: string[], onAck: (id: number, atMs: number) => void) => Promise<LoadResult>
/** What every phase of one benchmark run shares. */
interface Run {
  sink: Sink
  ids: IdSource
  drainSeconds: number
}

/** The headers the relay sends with a delivery, so that the sink sees the same requests from both. */
const deliveryHeaders = (id: number) => ({
  'user-agent': 'whatsgate-relay-bench',
  'webhook-id': eventKey(id),
  'x-whatsgate-event': 'message',
  'x-whatsgate-session': BENCH_SESSION,
})

/** The forwarding limit: what one undici pool with keep-alive pushes into the sink. */
async function limitRun({ sink, ids }: Run, seconds: number, connections: number) {
  const { result: load, foreignCores } = await measured('the bare forwarder', [], async () => {
    await sink.reset(ids.next)
    return undiciLoad({ url: sink.url, seconds, connections, ids, headers: deliveryHeaders })
  })
  const { received, alteredBodies } = await sink.stats()
  return { rps: received / load.seconds, load, alteredBodies, foreignCores }
}

/** Waits for the sink to have `count` events, bounded in time and given up when nothing moves for 10 s. */
async function drain(sink: Sink, count: number, seconds: number): Promise<void> {
  const deadline = nowMs() + seconds * 1000
  let received = (await sink.stats()).received
  let lastProgress = nowMs()
  while (received < count && nowMs() < deadline && nowMs() - lastProgress < 10_000) {
    await sleep(100)
    const now = (await sink.stats()).received
    if (now > received) lastProgress = nowMs()
    received = now
  }
}

/** One load on `servers`, then the wait for their events at the sink, matched by id to the 200s. */
async function runPhase(
  { sink, ids, drainSeconds }: Run,
  servers: Target[],
  name: { kind: PhaseKind; label: string; offered: string },
  send: Load,
) {
  const acceptedAt = new Map<number, number>()
  const { result, peakRssMb, cpuSeconds, writtenBytes, foreignCores } = await measured(
    name.label,
    servers.map((server) => server.child.pid),
    async () => {
      await sink.reset(ids.next)
      const loadStart = nowMs()
      const load = await send(
        servers.map((server) => server.url),
        (id, at) => acceptedAt.set(id, at),
      )
      const loadEnd = nowMs()
      const ackedAtEnd = acceptedAt.size
      await drain(sink, acceptedAt.size, drainSeconds)
      return { load, loadStart, loadEnd, ackedAtEnd, sink: await sink.stats(), dump: await sink.dump() }
    },
  )
  const { loadStart, loadEnd, dump } = result
  const acceptToArrival = latencyHistogram()
  let delivered = 0
  /** Arrived at the sink before the bench had read the relay's 200: counted as 0 ms. */
  let arrivedBeforeAck = 0
  let deliveredByLoadEnd = 0
  let lastArrival = loadStart
  dump.ids.forEach((id, i) => {
    const accepted = acceptedAt.get(id)
    const arrival = dump.arrivalsMs[i] ?? Number.NaN
    if (accepted === undefined) return
    delivered++
    if (arrival <= loadEnd) deliveredByLoadEnd++
    lastArrival = Math.max(lastArrival, arrival)
    if (arrival < accepted) arrivedBeforeAck++
    acceptToArrival.record(Math.max(0, arrival - accepted))
  })
  const deliveredPerSec = delivered / ((lastArrival - loadStart) / 1000)
  process.stderr.write(
    `  ingest ${fmt.int(result.load.rps)}/s, delivered ${fmt.int(deliveredPerSec)}/s, ` +
      `p99 accept->arrival ${fmt.ms(acceptToArrival.percentile(99))} ms\n`,
  )
  return {
    ...name,
    load: result.load,
    acked: acceptedAt.size,
    delivered,
    deliveredPerSec,
    acceptToArrival,
    arrivedBeforeAck,
    backlogAtEnd: result.ackedAtEnd - deliveredByLoadEnd,
    /** `earlier`: events of an earlier run that arrived during this one (a backlog the drain limit cut off). */
    sink: result.sink,
    drainSeconds: Math.max(0, (lastArrival - loadEnd) / 1000),
    /** The servers' CPU time (user + system, all replicas) per event delivered, µs: load and drain both. */
    cpuPerEventUs: (cpuSeconds * 1e6) / delivered,
    /** Bytes the servers had written to files (WAL, database, the floor's file) per event delivered, KiB. */
    writtenKbPerEvent: writtenBytes / 1024 / delivered,
    /** Per process: the largest replica's. */
    peakRssMb,
    foreignCores,
  }
}

type Phase = Awaited<ReturnType<typeof runPhase>>

/** Runs the benchmark; gives its markdown. */
export async function pipeline(): Promise<string> {
  const { seconds, warmupSeconds, connections } = commonSettings()
  const drainSeconds = envNumber('BENCH_DRAIN_SECONDS', 10)
  const lowRate = envNumber('BENCH_LOW_RATE', 1000)
  // With BENCH_DATABASE_URL the relay's outbox is PostgreSQL, which replicas can share.
  const databaseUrl = process.env.BENCH_DATABASE_URL || null
  const replicas = envNumber('BENCH_REPLICAS', 1)
  // BENCH_PIPELINE_RUNS=low,max: only those runs (A/B rounds of the relay need no baselines).
  const runs = new Set((process.env.BENCH_PIPELINE_RUNS ?? 'low,max,quarter,forwarder,floor').split(','))
  if (!Number.isInteger(replicas)) throw new Error(`BENCH_REPLICAS must be a whole number, got ${replicas}`)
  if (replicas > 1 && !databaseUrl)
    throw new Error('BENCH_REPLICAS > 1 needs BENCH_DATABASE_URL: replicas share one PostgreSQL outbox')
  const ids: IdSource = { next: 1 }
  const sink = await startSink()
  const run: Run = { sink, ids, drainSeconds }
  /** Every relay process started, for the stop and the log note. */
  const relays: Relay[] = []
  const schemas: Awaited<ReturnType<typeof freshSchema>>[] = []
  /** `replicas` relays on a fresh store (on PostgreSQL one fresh schema for all), forwarding to the sink. */
  const startReplicas = async (): Promise<Relay[]> => {
    const schema = databaseUrl ? await freshSchema(databaseUrl, 'bench_pipeline') : null
    if (schema) schemas.push(schema)
    const started: Relay[] = []
    // One after the other: the first migrates the empty schema.
    for (let i = 1; i <= replicas; i++) {
      const env = schema ? { DATABASE_URL: schema.url(`relay${i}`) } : {}
      // The target's own defaults (its concurrency adapts up to 64), unless BENCH_TARGET sets them.
      const relay = await startRelay({ forwardUrl: sink.url, env })
      relays.push(relay)
      started.push(relay)
    }
    return started
  }
  const store = databaseUrl ? 'PostgreSQL' : 'SQLite'
  try {
    process.stderr.write(`pipeline: bare undici -> sink, warm-up ${warmupSeconds} s, then ${seconds} s\n`)
    await limitRun(run, warmupSeconds, connections)
    const before = await limitRun(run, seconds, connections)
    process.stderr.write(`  forwarding limit ${fmt.int(before.rps)} events/s\n`)

    const paced =
      (rate: number, runSeconds = seconds): Load =>
      (urls, onAck) =>
        splitLoad(urls, { rate, seconds: runSeconds, connections, ids, onAck }, undiciLoad)
    const closed: Load = (urls, onAck) =>
      splitLoad(urls, { seconds, connections, ids, onAck }, autocannonLoad)
    const phases: Phase[] = []
    // Fresh relays (empty store) whenever a run left undelivered events: the dispatcher sends the
    // oldest first, so a leftover backlog would stand in front of every event of the next run.
    let current: Relay[] = []
    const relayPhase = async (kind: PhaseKind, label: string, offered: string, load: Load) => {
      const last = phases.at(-1)
      if (current.length === 0 || !last || last.acked !== last.delivered) {
        for (const relay of current) await relay.child.stop()
        current = await startReplicas()
        process.stderr.write(`pipeline: relay warm-up ${warmupSeconds} s at ${fmt.int(lowRate)}/s\n`)
        const warmUp = paced(lowRate, warmupSeconds)
        await runPhase(run, current, { kind: 'low', label: 'warm-up', offered: '' }, warmUp)
      }
      process.stderr.write(`pipeline: ${label}, ${offered}, ${seconds} s\n`)
      phases.push(await runPhase(run, current, { kind, label, offered }, load))
    }
    // First a rate the relay should sustain: latency, not capacity.
    if (runs.has('low')) {
      await relayPhase('low', 'relay, low rate, paced', `${fmt.int(lowRate)}/s evenly`, paced(lowRate))
    }
    if (runs.has('max')) await relayPhase('max', 'relay, max rate', `${connections} connections`, closed)
    const latencyRate = Math.max(1, Math.round(before.rps / 4))
    const quarter = `${fmt.int(latencyRate)}/s evenly`
    if (runs.has('quarter')) {
      await relayPhase('latency', 'relay, quarter of the limit, paced', quarter, paced(latencyRate))
    }
    for (const relay of current) await relay.child.stop()

    // The baselines under the same loads: the bare forwarder (no store), then the durable floor
    // (a group-synced append file, then one post).
    const baselines = [
      { kind: 'forwarder', name: 'bare forwarder', what: 'no store', start: startBare },
      {
        kind: 'floor',
        name: 'durable floor',
        what: 'append + fdatasync, one post',
        start: startDurableFloor,
      },
    ] as const
    for (const baseline of baselines.filter((baseline) => runs.has(baseline.kind))) {
      process.stderr.write(`pipeline: ${baseline.name} (${baseline.what}) at max rate, ${seconds} s\n`)
      const server = await baseline.start({ url: sink.url, connections })
      try {
        await autocannonLoad({ url: server.url, seconds: warmupSeconds, connections, ids })
        const max = {
          kind: baseline.kind,
          label: `${baseline.name}, max rate`,
          offered: `${connections} connections`,
        }
        phases.push(await runPhase(run, [server], max, closed))
        // The same steady rate as the relay's low-rate run: CPU per event where most servers live.
        const low = {
          kind: `${baseline.kind}-low` as const,
          label: `${baseline.name}, low rate, paced`,
          offered: `${fmt.int(lowRate)}/s evenly`,
        }
        phases.push(await runPhase(run, [server], low, paced(lowRate)))
      } finally {
        await server.child.stop()
      }
    }
    process.stderr.write(`pipeline: bare undici -> sink again, ${seconds} s\n`)
    const after = await limitRun(run, seconds, connections)
    const limit = (before.rps + after.rps) / 2
    const outbox = replicas > 1 ? `${store}, ${replicas} replicas: ingest -> one` : `ingest -> ${store}`
    // RSS is per process: each replica holds its own; CPU is the replicas' together.
    const perReplica = replicas > 1 ? ' per replica' : ''
    return [
      ...foreignLoadWarning([before, after, ...phases].map((r) => r.foreignCores)),
      `### Pipeline (${outbox} outbox -> dispatcher -> local sink, ${seconds} s per run; ` +
        `limit = mean of the two bare runs, ${fmt.int(limit)} events/s)`,
      '',
      table([before, after], phases, limit, connections, perReplica),
      '',
      ...verdicts(phases, limit, latencyRate, lowRate, perReplica),
      ...phases.map((p) => checks(p, drainSeconds)),
      ...[before, after]
        .filter((b) => b.load.errors + b.load.non2xx > 0 || b.alteredBodies > 0)
        .map(
          (b) => `Bare forwarder: ${b.load.errors + b.load.non2xx} errors, ${b.alteredBodies} altered bodies`,
        ),
      ...(relays.length > replicas
        ? [
            `${relays.length} relay processes: ${replicas > 1 ? `${replicas} fresh ones` : 'a fresh one'} ` +
              '(empty store) after each run that left undelivered events.',
          ]
        : []),
      ...relayLogNote(relays.map((relay) => relay.child)),
    ].join('\n')
  } finally {
    for (const relay of relays) await relay.child.stop(5000)
    await sink.child.stop(2000)
    for (const schema of schemas) await schema.drop()
  }
}

type LimitRun = Awaited<ReturnType<typeof limitRun>>

function table(
  bare: LimitRun[],
  phases: Phase[],
  limit: number,
  connections: number,
  perReplica: string,
): string {
  const rtt = (b: LimitRun, p: number) => `${fmt.ms(b.load.latency.percentile(p))} (RTT)`
  const headers = ['run', 'offered', 'ingest req/s', 'delivered ev/s', 'vs limit', 'accept→arrival p50 ms']
  headers.push(
    'p99 ms',
    'backlog at end of load',
    'drain s',
    'CPU µs/event',
    'written KiB/event',
    `peak RSS MiB${perReplica}`,
    'other CPU (cores)',
  )
  return markdownTable(headers, [
    ...bare.map((b, i) => [
      `bare undici -> sink, ${i === 0 ? 'before' : 'after'}`,
      `${connections} in flight`,
      '-',
      fmt.int(b.rps),
      fmt.ratio(b.rps / limit),
      rtt(b, 50),
      rtt(b, 99),
      ...['-', '-', '-', '-', '-'],
      b.foreignCores.toFixed(2),
    ]),
    ...phases.map((p) => [
      p.label,
      p.offered,
      fmt.int(p.load.rps),
      fmt.int(p.deliveredPerSec),
      fmt.ratio(p.deliveredPerSec / limit),
      fmt.ms(p.acceptToArrival.percentile(50)),
      fmt.ms(p.acceptToArrival.percentile(99)),
      fmt.int(p.backlogAtEnd),
      p.drainSeconds.toFixed(1),
      fmt.int(p.cpuPerEventUs),
      p.writtenKbPerEvent.toFixed(1),
      fmt.mb(p.peakRssMb),
      p.foreignCores.toFixed(2),
    ]),
  ])
}

/**
 * The targets: against the bare forwarder (the ceiling) and the durable floor (the least a relay
 * that answers after a durable write must do), delivered and CPU at max rate, CPU and latency at a
 * steady rate; and no growing backlog at max rate.
 */
function verdicts(
  phases: Phase[],
  limit: number,
  latencyRate: number,
  lowRate: number,
  perReplica: string,
): string[] {
  const lines: string[] = []
  const find = (kind: PhaseKind) => phases.find((p) => p.kind === kind)
  const [maxRun, latencyRun, low] = [find('max'), find('latency'), find('low')]
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL')
  if (!maxRun || !low) return lines
  lines.push(
    `The relay delivered ${fmt.int(maxRun.deliveredPerSec)}/s at max rate, ` +
      `${fmt.ratio(maxRun.deliveredPerSec / limit)} of the forwarding limit`,
  )
  for (const kind of ['forwarder', 'floor'] as const) {
    const base = find(kind)
    const baseLow = find(`${kind}-low`)
    if (!base || !baseLow) continue
    const name = kind === 'forwarder' ? "the bare forwarder's" : "the durable floor's"
    const share = maxRun.deliveredPerSec / base.deliveredPerSec
    lines.push(
      `Target: delivered at max rate >= 0.8 of ${name} (${fmt.int(base.deliveredPerSec)}/s): ` +
        `${share.toFixed(2)} -> ${pass(share >= 0.8)}`,
    )
    const cpu = maxRun.cpuPerEventUs / base.cpuPerEventUs
    const cpuLow = low.cpuPerEventUs / baseLow.cpuPerEventUs
    if (kind === 'floor') {
      lines.push(
        `Target: CPU per event at max rate <= 1.3x ${name}: ${fmt.int(maxRun.cpuPerEventUs)} against ` +
          `${fmt.int(base.cpuPerEventUs)} µs, ${cpu.toFixed(2)}x -> ${pass(cpu <= 1.3)}`,
        `Target: CPU per event at ${fmt.int(lowRate)}/s <= ${name}: ${fmt.int(low.cpuPerEventUs)} against ` +
          `${fmt.int(baseLow.cpuPerEventUs)} µs, ${cpuLow.toFixed(2)}x -> ${pass(cpuLow <= 1)}`,
      )
    } else {
      lines.push(
        `For comparison, CPU per event against ${name}: ${cpu.toFixed(2)}x at max rate, ` +
          `${cpuLow.toFixed(2)}x at ${fmt.int(lowRate)}/s; peak RSS${perReplica} ${fmt.mb(maxRun.peakRssMb)} ` +
          `against ${fmt.mb(base.peakRssMb)} MiB`,
      )
    }
  }
  const lowP99 = low.acceptToArrival.percentile(99)
  lines.push(
    `Target: p99 accept->arrival at ${fmt.int(lowRate)}/s (paced) < 5 ms: ${fmt.ms(lowP99)} ms -> ${pass(lowP99 < 5)}`,
  )
  const kept = maxRun.deliveredPerSec >= 0.95 * maxRun.load.rps
  const maxP99 = maxRun.acceptToArrival.percentile(99)
  lines.push(
    `Target: at max rate, delivery within 5 % of ingest (no growing backlog): ${fmt.int(maxRun.deliveredPerSec)} of ` +
      `${fmt.int(maxRun.load.rps)}/s -> ${pass(kept)}; accept->arrival p99 < 25 ms: ${fmt.ms(maxP99)} ms -> ` +
      `${pass(maxP99 < 25)}`,
  )
  if (latencyRun) {
    const p99 = latencyRun.acceptToArrival.percentile(99)
    // A run the relay could not take at the offered rate measured a lower rate: it does not pass.
    const taken = latencyRun.load.rps >= 0.95 * latencyRate
    lines.push(
      `Target: p99 accept->arrival < 50 ms at a quarter of the limit, ${fmt.int(latencyRate)}/s (paced): ` +
        `${fmt.ms(p99)} ms at ${fmt.int(latencyRun.load.rps)}/s taken -> ${pass(p99 < 50 && taken)}`,
    )
  }
  return lines
}

function checks(p: Phase, drainSeconds: number): string {
  const problems = [
    p.acked !== p.delivered &&
      `${fmt.int(p.acked - p.delivered)} acked events not delivered within the drain limit (BENCH_DRAIN_SECONDS=${drainSeconds})`,
    p.sink.duplicates > 0 && `${p.sink.duplicates} duplicate deliveries`,
    p.sink.earlier > 0 && `${fmt.int(p.sink.earlier)} events of the run before arrived meanwhile`,
    p.sink.alteredBodies > 0 && `${p.sink.alteredBodies} bodies not byte for byte the sent event`,
    p.sink.missingKey > 0 && `${p.sink.missingKey} deliveries without webhook-id`,
    p.load.non2xx + p.load.errors > 0 && `${p.load.non2xx} non-2xx / ${p.load.errors} errors at ingest`,
  ].filter(Boolean)
  const all = problems.length ? `; ${problems.join('; ')}` : ', all checks OK'
  // Not a fault: a relay hands a fresh event on right after its commit, the forwarder before it answers.
  const early =
    p.arrivedBeforeAck > 0
      ? ` (${fmt.int(p.arrivedBeforeAck)} arrived before the bench read the 200: 0 ms)`
      : ''
  return `${p.label}: ${fmt.int(p.acked)} acked, ${fmt.int(p.delivered)} delivered${all}${early}`
}
