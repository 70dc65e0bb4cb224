// Stream: WhatsGate-like load into the relay, read back by one consumer of a stream target
// (GET /stream/<name>, server-sent events) in this process. Measures events/s reaching the
// consumer at max rate, and the time from the relay's 200 to the consumer having the event at
// 1,000 events/s (paced), against the target p99 < 20 ms.
import { createParser } from 'eventsource-parser'
import { idFromAck } from './harness/event.ts'
import { autocannonLoad, type IdSource, type LoadResult, undiciLoad } from './harness/load.ts'
import { latencyHistogram, measured } from './harness/measure.ts'
import { commonSettings, envNumber, nowMs, sleep } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable, relayLogNote } from './harness/report.ts'
import { type Relay, startRelay } from './harness/servers.ts'

const STREAM = 'bench-stream'
const TOKEN = 'bench-stream-token-0123456789'

/** One consumer reading the stream from its start: when each event (by its WhatsGate id) arrived. */
async function startConsumer(relay: Relay) {
  const arrivals = new Map<number, number>()
  const controller = new AbortController()
  const response = await fetch(`${relay.url.replace(/\/webhook\/.*$/, '')}/stream/${STREAM}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: controller.signal,
  })
  const body = response.body
  if (response.status !== 200 || !body) throw new Error(`stream answered ${response.status}`)
  const parser = createParser({
    onEvent: (message) => {
      const id = idFromAck(message.data)
      if (!arrivals.has(id)) arrivals.set(id, nowMs())
    },
  })
  const reading = (async () => {
    try {
      for await (const chunk of body.pipeThrough(new TextDecoderStream())) parser.feed(chunk)
    } catch (error) {
      if (!controller.signal.aborted) throw error
    }
  })()
  return {
    arrivals,
    async close() {
      controller.abort()
      await reading
    },
  }
}

type Consumer = Awaited<ReturnType<typeof startConsumer>>

async function runPhase(
  relay: Relay,
  consumer: Consumer,
  label: string,
  send: (onAck: (id: number, at: number) => void) => Promise<LoadResult>,
  drainSeconds: number,
) {
  const acceptedAt = new Map<number, number>()
  const { result, peakRssMb, foreignCores } = await measured(label, [relay.child.pid], async () => {
    const loadStart = nowMs()
    const load = await send((id, at) => acceptedAt.set(id, at))
    const loadEnd = nowMs()
    const deadline = loadEnd + drainSeconds * 1000
    const missing = () => [...acceptedAt.keys()].some((id) => !consumer.arrivals.has(id))
    while (missing() && nowMs() < deadline) await sleep(50)
    return { load, loadStart, loadEnd }
  })
  const latency = latencyHistogram()
  let delivered = 0
  let lastArrival = result.loadStart
  let deliveredByLoadEnd = 0
  /** Read by the consumer before the load generator had read the 200: counted as 0 ms. */
  let arrivedBeforeAck = 0
  for (const [id, accepted] of acceptedAt) {
    const arrival = consumer.arrivals.get(id)
    if (arrival === undefined) continue
    delivered++
    if (arrival <= result.loadEnd) deliveredByLoadEnd++
    if (arrival < accepted) arrivedBeforeAck++
    lastArrival = Math.max(lastArrival, arrival)
    latency.record(Math.max(0, arrival - accepted))
  }
  const deliveredPerSec = delivered / ((lastArrival - result.loadStart) / 1000)
  process.stderr.write(
    `  ingest ${fmt.int(result.load.rps)}/s, to the consumer ${fmt.int(deliveredPerSec)}/s, ` +
      `p99 accept->arrival ${fmt.ms(latency.percentile(99))} ms\n`,
  )
  return {
    label,
    load: result.load,
    acked: acceptedAt.size,
    delivered,
    deliveredPerSec,
    latency,
    arrivedBeforeAck,
    backlogAtEnd: acceptedAt.size - deliveredByLoadEnd,
    peakRssMb,
    foreignCores,
  }
}

/** Runs the benchmark; gives its markdown. */
export async function stream(): Promise<string> {
  const { seconds, warmupSeconds, connections } = commonSettings()
  const rate = envNumber('BENCH_LOW_RATE', 1000)
  const drainSeconds = envNumber('BENCH_DRAIN_SECONDS', 10)
  const ids: IdSource = { next: 1 }
  const target = { type: 'stream', name: STREAM, token: TOKEN, events: ['*'] }
  const relay = await startRelay({ env: { TARGETS: JSON.stringify([target]) } })
  const consumer = await startConsumer(relay)
  try {
    const paced = (runSeconds: number) => (onAck: (id: number, at: number) => void) =>
      undiciLoad({ url: relay.url, rate, seconds: runSeconds, connections, ids, onAck })
    process.stderr.write(`stream: warm-up ${warmupSeconds} s at ${fmt.int(rate)}/s\n`)
    await runPhase(relay, consumer, 'warm-up', paced(warmupSeconds), drainSeconds)
    process.stderr.write(`stream: ${fmt.int(rate)}/s evenly, ${seconds} s\n`)
    const low = await runPhase(relay, consumer, `${fmt.int(rate)}/s, paced`, paced(seconds), drainSeconds)
    process.stderr.write(`stream: max rate, ${connections} connections, ${seconds} s\n`)
    const max = await runPhase(
      relay,
      consumer,
      'max rate',
      (onAck) => autocannonLoad({ url: relay.url, seconds, connections, ids, onAck }),
      drainSeconds,
    )
    const phases = [low, max]
    const p99 = low.latency.percentile(99)
    const kept = low.load.rps >= 0.95 * rate
    return [
      ...foreignLoadWarning(phases.map((p) => p.foreignCores)),
      `### Stream (ingest -> SQLite outbox -> GET /stream/<name> -> one consumer, ${seconds} s per run)`,
      '',
      markdownTable(
        [
          'run',
          'ingest req/s',
          'to the consumer ev/s',
          'accept→arrival p50 ms',
          'p99 ms',
          'backlog at end of load',
          'relay peak RSS MiB',
          'other CPU (cores)',
        ],
        phases.map((p) => [
          p.label,
          fmt.int(p.load.rps),
          fmt.int(p.deliveredPerSec),
          fmt.ms(p.latency.percentile(50)),
          fmt.ms(p.latency.percentile(99)),
          fmt.int(p.backlogAtEnd),
          fmt.mb(p.peakRssMb),
          p.foreignCores.toFixed(2),
        ]),
      ),
      '',
      `Target: p99 accept->arrival < 20 ms at ${fmt.int(rate)}/s (paced): ${fmt.ms(p99)} ms at ` +
        `${fmt.int(low.load.rps)}/s taken -> ${p99 < 20 && kept ? 'PASS' : 'FAIL'}`,
      ...phases.map(
        (p) =>
          `${p.label}: ${fmt.int(p.acked)} acked, ${fmt.int(p.delivered)} read by the consumer` +
          (p.acked === p.delivered ? ', none missing' : ` (${fmt.int(p.acked - p.delivered)} missing)`) +
          `; ${fmt.int(p.arrivedBeforeAck)} read before the load generator had its 200 (counted as 0 ms)`,
      ),
      ...relayLogNote([relay.child]),
    ].join('\n')
  } finally {
    await consumer.close()
    await relay.child.stop(5000)
  }
}
