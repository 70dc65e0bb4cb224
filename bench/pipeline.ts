// Pipeline: WhatsGate-like load into the relay, forwarded to one local sink. Measures how fast
// events come out the other side and how long each takes from the relay's 200 to the sink,
// against the forwarding limit (a bare undici client posting the same bodies to the same sink)
// and against a bare forwarder (Fastify + undici, no store) under the same load as the relay.
import { startBare } from './bare.ts'
import { type BareForward, bareForward } from './bare-forward.ts'
import { type IdSource, type LoadResult, runLoad, runPacedLoad } from './load.ts'
import {
  type LatencyHistogram,
  latencyHistogram,
  sampleForeignCpu,
  sampleRss,
  waitForIdle,
} from './measure.ts'
import { type Relay, startRelay } from './relay.ts'
import { type Sink, startSink } from './sink.ts'
import { type Child, fmt, nowMs, sleep } from './support.ts'

export interface PipelineOptions {
  seconds: number
  warmupSeconds: number
  connections: number
  /** Upper bound on waiting for the backlog to reach the sink after the load stops. */
  drainSeconds: number
  /** The rate of the low-rate run, which goes first (events/s). */
  lowRate: number
}

export type PhaseKind = 'low' | 'max' | 'latency' | 'forwarder'

export interface RelayPhase {
  kind: PhaseKind
  label: string
  offered: string
  load: LoadResult
  acked: number
  delivered: number
  deliveredPerSec: number
  acceptToArrival: LatencyHistogram
  /** Arrived at the sink before the bench had read the relay's 200: counted as 0 ms. */
  arrivedBeforeAck: number
  backlogAtEnd: number
  /** Events of an earlier run that arrived during this one (a backlog the drain limit cut off). */
  earlierArrivals: number
  drainSeconds: number
  duplicates: number
  alteredBodies: number
  missingKey: number
  peakRssMb: number
  foreignCores: number
}

export interface PipelineReport {
  options: PipelineOptions
  /** The forwarding limit, measured before and after the relay runs (it varies ±15 % here). */
  bare: BareForward[]
  limit: number
  /** The latency run's rate: half of half the limit, the "half that rate". */
  latencyRate: number
  phases: RelayPhase[]
  /** Relay processes started: a new one after each run that left a backlog. */
  relays: number
  relayLogLines: number
  relayLogTail: string[]
}

async function relayPhase(
  server: { child: Child },
  sink: Sink,
  ids: IdSource,
  kind: PhaseKind,
  label: string,
  offered: string,
  drainSeconds: number,
  load: (onAck: (id: number, atMs: number) => void) => Promise<LoadResult>,
): Promise<RelayPhase> {
  await waitForIdle(label)
  await sink.reset(ids.next)
  const acceptedAt = new Map<number, number>()
  const rss = sampleRss(server.child.pid)
  const foreign = sampleForeignCpu()
  const loadStart = nowMs()
  const result = await load((id, at) => acceptedAt.set(id, at))
  const loadEnd = nowMs()
  const ackedAtEnd = acceptedAt.size
  // Wait for the backlog, bounded in time and given up early when nothing moves for 10 s.
  const deadline = nowMs() + drainSeconds * 1000
  let received = (await sink.stats()).received
  let lastProgress = nowMs()
  while (received < acceptedAt.size && nowMs() < deadline && nowMs() - lastProgress < 10_000) {
    await sleep(100)
    const stats = await sink.stats()
    if (stats.received > received) lastProgress = nowMs()
    received = stats.received
  }
  const stats = await sink.stats()
  const dump = await sink.dump()
  const peakRssMb = rss.stop().peakMb
  const foreignCores = foreign.stop()
  const acceptToArrival = latencyHistogram()
  let delivered = 0
  let arrivedBeforeAck = 0
  let deliveredByLoadEnd = 0
  let lastArrival = loadStart
  for (let i = 0; i < dump.ids.length; i++) {
    const accepted = acceptedAt.get(dump.ids[i] ?? Number.NaN)
    const arrival = dump.arrivalsMs[i] ?? Number.NaN
    if (accepted === undefined) continue
    delivered++
    if (arrival <= loadEnd) deliveredByLoadEnd++
    lastArrival = Math.max(lastArrival, arrival)
    if (arrival < accepted) arrivedBeforeAck++
    acceptToArrival.record(Math.max(0, arrival - accepted))
  }
  return {
    kind,
    label,
    offered,
    load: result,
    acked: acceptedAt.size,
    delivered,
    deliveredPerSec: delivered / ((lastArrival - loadStart) / 1000),
    acceptToArrival,
    arrivedBeforeAck,
    backlogAtEnd: ackedAtEnd - deliveredByLoadEnd,
    earlierArrivals: stats.earlier,
    drainSeconds: Math.max(0, (lastArrival - loadEnd) / 1000),
    duplicates: stats.duplicates,
    alteredBodies: stats.alteredBodies,
    missingKey: stats.missingKey,
    peakRssMb,
    foreignCores,
  }
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineReport> {
  const ids: IdSource = { next: 1 }
  const sink = await startSink()
  let relay: Relay | undefined
  try {
    process.stderr.write(
      `pipeline: bare undici -> sink, warm-up ${options.warmupSeconds} s, then ${options.seconds} s\n`,
    )
    await bareForward(sink, options.warmupSeconds, options.connections, ids)
    const before = await bareForward(sink, options.seconds, options.connections, ids)
    process.stderr.write(`  forwarding limit ${fmt.int(before.rps)} events/s\n`)

    type Load = (url: string, onAck: (id: number, at: number) => void) => Promise<LoadResult>
    const paced =
      (rate: number, seconds = options.seconds): Load =>
      (url, onAck) =>
        runPacedLoad({ url, rate, seconds, connections: options.connections, ids, onAck })
    const relays: Relay[] = []
    // A fresh relay (empty store) whenever a run left undelivered events: the dispatcher sends the
    // oldest first, so a leftover backlog would stand in front of every event of the next run.
    const freshRelay = async (): Promise<Relay> => {
      await relay?.child.stop()
      // The relay may keep as many requests in flight to the sink as the bare client does.
      const started = await startRelay({ forwardUrl: sink.url, concurrency: options.connections })
      relay = started
      relays.push(started)
      process.stderr.write(
        `pipeline: relay warm-up ${options.warmupSeconds} s at ${fmt.int(options.lowRate)}/s\n`,
      )
      const warmUp = paced(options.lowRate, options.warmupSeconds)
      await relayPhase(started, sink, ids, 'low', 'warm-up', '', options.drainSeconds, (onAck) =>
        warmUp(started.ingestUrl, onAck),
      )
      return started
    }

    const phases: RelayPhase[] = []
    const report = (phase: RelayPhase) => {
      process.stderr.write(
        `  ingest ${fmt.int(phase.load.rps)}/s, delivered ${fmt.int(phase.deliveredPerSec)}/s, ` +
          `p99 accept->arrival ${fmt.ms(phase.acceptToArrival.percentile(99))} ms\n`,
      )
      phases.push(phase)
    }
    const run = async (kind: PhaseKind, label: string, offered: string, load: Load) => {
      const last = phases.at(-1)
      const target = relay && last && last.acked === last.delivered ? relay : await freshRelay()
      process.stderr.write(`pipeline: ${label}, ${offered}, ${options.seconds} s\n`)
      report(
        await relayPhase(target, sink, ids, kind, label, offered, options.drainSeconds, (onAck) =>
          load(target.ingestUrl, onAck),
        ),
      )
    }
    const closed: Load = (url, onAck) =>
      runLoad({ url, seconds: options.seconds, connections: options.connections, ids, onAck })
    // First a rate the relay should sustain: latency, not capacity.
    await run('low', 'relay, low rate, paced', `${fmt.int(options.lowRate)}/s evenly`, paced(options.lowRate))
    await run('max', 'relay, max rate', `${options.connections} connections`, closed)
    const latencyRate = Math.max(1, Math.round(before.rps / 4))
    await run(
      'latency',
      'relay, quarter of the limit, paced',
      `${fmt.int(latencyRate)}/s evenly`,
      paced(latencyRate),
    )
    await relay?.child.stop()

    process.stderr.write(`pipeline: bare forwarder (no store) at max rate, ${options.seconds} s\n`)
    const forwarder = await startBare({ forwardUrl: sink.url, connections: options.connections })
    try {
      await runLoad({
        url: forwarder.url,
        seconds: options.warmupSeconds,
        connections: options.connections,
        ids,
      })
      report(
        await relayPhase(
          forwarder,
          sink,
          ids,
          'forwarder',
          'bare forwarder, max rate',
          `${options.connections} connections`,
          options.drainSeconds,
          (onAck) => closed(forwarder.url, onAck),
        ),
      )
    } finally {
      await forwarder.child.stop()
    }
    process.stderr.write(`pipeline: bare undici -> sink again, ${options.seconds} s\n`)
    const after = await bareForward(sink, options.seconds, options.connections, ids)
    return {
      options,
      bare: [before, after],
      limit: (before.rps + after.rps) / 2,
      latencyRate,
      phases,
      relays: relays.length,
      relayLogLines: relays.reduce((sum, r) => sum + r.child.logLineCount(), 0),
      relayLogTail: relays.flatMap((r) => r.child.logTail()),
    }
  } finally {
    await relay?.child.stop(5000)
    await sink.child.stop(2000)
  }
}
