// Backlog: the relay's one target is down (nothing listens on its port) while events pile up to
// BENCH_BACKLOG_EVENTS (a million by default), then it comes back on the same port and the backlog
// drains. Measures the relay's resident memory all along: the backlog is rows in the outbox, not
// objects in the process, so its RSS should stay flat (within 10 %) however long the backlog grows.
import { autocannonLoad, type IdSource } from './harness/load.ts'
import { rssMb } from './harness/measure.ts'
import { freshSchema } from './harness/postgres-schema.ts'
import { commonSettings, envNumber, freePort, nowMs, sleep } from './harness/process.ts'
import { fmt, markdownTable, relayLogNote } from './harness/report.ts'
import { startRelay, startSink } from './harness/servers.ts'

interface Sample {
  phase: string
  /** Events acknowledged and not yet at the target. */
  backlog: number
  rssMb: number
  seconds: number
}

/** Runs the benchmark; gives its markdown. */
export async function backlog(): Promise<string> {
  const { connections } = commonSettings()
  const total = envNumber('BENCH_BACKLOG_EVENTS', 1_000_000)
  const drainLimitSeconds = envNumber('BENCH_BACKLOG_DRAIN_SECONDS', 900)
  const port = await freePort()
  // With BENCH_DATABASE_URL the outbox is a fresh schema of that PostgreSQL database.
  const databaseUrl = process.env.BENCH_DATABASE_URL || null
  const schema = databaseUrl ? await freshSchema(databaseUrl, 'bench_backlog') : null
  const env = schema ? { DATABASE_URL: schema.url('relay') } : {}
  const relay = await startRelay({ forwardUrl: `http://127.0.0.1:${port}/hook`, env })
  const pid = relay.child.pid as number
  const ids: IdSource = { next: 1 }
  const started = nowMs()
  const samples: Sample[] = []
  const sample = (phase: string, pending: number) => {
    samples.push({ phase, backlog: pending, rssMb: rssMb(pid), seconds: (nowMs() - started) / 1000 })
  }
  let acked = 0
  let sink: Awaited<ReturnType<typeof startSink>> | null = null
  try {
    sample('start, target down', 0)
    process.stderr.write(`backlog: ${fmt.int(total)} events into a relay whose target is down\n`)
    while (acked < total) {
      const load = await autocannonLoad({ url: relay.url, seconds: 5, connections, ids })
      acked += load.ok
      sample('building', acked)
      process.stderr.write(`  ${fmt.int(acked)} acknowledged, relay RSS ${fmt.mb(rssMb(pid))} MiB\n`)
    }
    const buildSeconds = (nowMs() - started) / 1000
    process.stderr.write('backlog: the target is back\n')
    sink = await startSink(port)
    const drainStart = nowMs()
    let received = 0
    let lastProgress = nowMs()
    while (
      received < acked &&
      nowMs() - drainStart < drainLimitSeconds * 1000 &&
      nowMs() - lastProgress < 60_000
    ) {
      await sleep(5000)
      const now = (await sink.stats()).received
      if (now > received) lastProgress = nowMs()
      received = now
      sample('draining', Math.max(0, acked - received))
      process.stderr.write(`  ${fmt.int(received)} delivered, relay RSS ${fmt.mb(rssMb(pid))} MiB\n`)
    }
    const drainSeconds = (nowMs() - drainStart) / 1000
    return report(samples, {
      store: schema ? 'PostgreSQL' : 'SQLite',
      total: acked,
      received,
      buildSeconds,
      drainSeconds,
      relayLog: relayLogNote([relay.child]),
    })
  } finally {
    await relay.child.stop(10_000)
    await sink?.child.stop(2000)
    await schema?.drop()
  }
}

function report(
  samples: Sample[],
  run: {
    store: string
    total: number
    received: number
    buildSeconds: number
    drainSeconds: number
    relayLog: string[]
  },
): string {
  // The reference: the relay once warm, a tenth of the way into the backlog. The drain is a
  // max-rate delivery run, whose memory is the pipeline's at max rate: reported, not judged here.
  const building = samples.filter((s) => s.phase === 'building')
  const warm = building.find((s) => s.backlog >= run.total / 10) ?? building[0]
  const highest = Math.max(...building.map((s) => s.rssMb))
  const draining = samples.filter((s) => s.phase === 'draining')
  const drainHighest = Math.max(...draining.map((s) => s.rssMb))
  // The drain's own memory, from its first sample on: flat while it runs, whatever the build-up's.
  const drainLowest = Math.min(...draining.map((s) => s.rssMb))
  const drainRate = run.received / run.drainSeconds
  const growth = warm ? highest / warm.rssMb - 1 : Number.NaN
  // Every tenth of the build-up and of the drain, so the table stays short.
  const shown = samples.filter(
    (_, i) => i === 0 || i === samples.length - 1 || i % Math.ceil(samples.length / 20) === 0,
  )
  return [
    `### Backlog (${run.store}: a target down while ${fmt.int(run.total)} events pile up, then back; relay RSS)`,
    '',
    markdownTable(
      ['phase', 's', 'backlog (events)', 'relay RSS MiB'],
      shown.map((s) => [s.phase, s.seconds.toFixed(0), fmt.int(s.backlog), fmt.mb(s.rssMb)]),
    ),
    '',
    `Built in ${run.buildSeconds.toFixed(0)} s; ${fmt.int(run.received)} delivered in ${run.drainSeconds.toFixed(0)} s ` +
      `once the target was back (${fmt.int(run.total)} acknowledged; requests cut off unanswered when a load ` +
      'step stopped may be stored and delivered too).',
    `Target: RSS flat within 10 % while the backlog builds, from a tenth of it on (${fmt.mb(warm?.rssMb ?? Number.NaN)} MiB) ` +
      `to the highest seen (${fmt.mb(highest)} MiB): ${(growth * 100).toFixed(1)} % -> ${growth <= 0.1 ? 'PASS' : 'FAIL'}. ` +
      `While it drains at full speed: ${fmt.mb(drainLowest)} to ${fmt.mb(drainHighest)} MiB.`,
    `Target: the drain at >= 10,000 events/s: ${fmt.int(drainRate)}/s (the last sample ends it, so a little low) -> ` +
      `${drainRate >= 10_000 && run.received >= run.total ? 'PASS' : 'FAIL'}`,
    ...run.relayLog,
  ].join('\n')
}
