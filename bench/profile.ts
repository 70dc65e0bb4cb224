// Profile: where the relay's CPU goes at max rate, beside the durable floor's (durable-floor.ts)
// under the same load. Each runs with node --cpu-prof; only the samples of the measured run (load
// and drain, not start-up or warm-up) count. Prints the time per delivered event of each slice of
// the code (a file of the relay, a package, a part of Node) and writes both flame graphs as SVG to
// BENCH_FLAME_DIR (default: a temporary directory, named in the output).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { flameGraphSvg, readProfile, slices } from './harness/flame.ts'
import { autocannonLoad, type IdSource } from './harness/load.ts'
import { commonSettings, makeTempDir, nowMs, sleep } from './harness/process.ts'
import { fmt, markdownTable } from './harness/report.ts'
import { type Sink, startDurableFloor, startRelay, startSink, type Target } from './harness/servers.ts'

interface Profiled {
  name: string
  delivered: number
  slices: Map<string, number>
  busyUs: number
  svg: string
}

/** Waits until the sink has `count` events, or nothing arrives for 5 s. */
async function drained(sink: Sink, count: number): Promise<number> {
  let received = (await sink.stats()).received
  let lastProgress = nowMs()
  while (received < count && nowMs() - lastProgress < 5000) {
    await sleep(50)
    const now = (await sink.stats()).received
    if (now > received) lastProgress = nowMs()
    received = now
  }
  return received
}

async function profiled(
  name: string,
  start: (nodeFlags: string[]) => Promise<Target>,
  sink: Sink,
  ids: IdSource,
): Promise<Profiled> {
  const { seconds, warmupSeconds, connections } = commonSettings()
  const dir = makeTempDir('cpu-profile')
  const server = await start([`--cpu-prof`, `--cpu-prof-dir=${dir}`])
  let window: { fromMs: number; toMs: number }
  let delivered: number
  try {
    process.stderr.write(`profile: ${name}, warm-up ${warmupSeconds} s, then ${seconds} s at max rate\n`)
    await autocannonLoad({ url: server.url, seconds: warmupSeconds, connections, ids })
    await drained(sink, (await sink.stats()).received + 1)
    await sink.reset(ids.next)
    const fromMs = nowMs()
    const load = await autocannonLoad({ url: server.url, seconds, connections, ids })
    delivered = await drained(sink, load.ok)
    window = { fromMs, toMs: nowMs() }
  } finally {
    await server.child.stop()
  }
  const file = readdirSync(dir).find((entry) => entry.endsWith('.cpuprofile'))
  if (!file) throw new Error(`${name} wrote no CPU profile in ${dir}`)
  const profile = readProfile(join(dir, file), window)
  const perEvent = fmt.int(profile.busyUs / delivered)
  const title = `${name} at max rate: ${fmt.int(delivered)} events, ${perEvent} µs of CPU on the main thread per event`
  return {
    name,
    delivered,
    slices: slices(profile),
    busyUs: profile.busyUs,
    svg: flameGraphSvg(profile, title),
  }
}

export async function profile(): Promise<string> {
  const { connections } = commonSettings()
  const sink = await startSink()
  const ids: IdSource = { next: 1 }
  const flameDir = process.env.BENCH_FLAME_DIR ?? makeTempDir('flame')
  mkdirSync(flameDir, { recursive: true })
  try {
    const relay = await profiled(
      'relay',
      (nodeFlags) => startRelay({ forwardUrl: sink.url, nodeFlags }),
      sink,
      ids,
    )
    const floor = await profiled(
      'durable floor',
      (nodeFlags) => startDurableFloor({ url: sink.url, connections }, nodeFlags),
      sink,
      ids,
    )
    for (const run of [relay, floor])
      writeFileSync(join(flameDir, `flame-${run.name.replace(' ', '-')}.svg`), run.svg)
    const perEvent = (run: Profiled, slice: string) => (run.slices.get(slice) ?? 0) / run.delivered
    const names = [...new Set([...relay.slices.keys(), ...floor.slices.keys()])]
      .map((slice) => ({ slice, relay: perEvent(relay, slice), floor: perEvent(floor, slice) }))
      .sort((a, b) => b.relay - b.floor - (a.relay - a.floor))
    const shown = names.filter((row) => Math.max(row.relay, row.floor) >= 1)
    const rest = names.filter((row) => Math.max(row.relay, row.floor) < 1)
    const sum = (rows: typeof names, key: 'relay' | 'floor') =>
      rows.reduce((total, row) => total + row[key], 0)
    const row = (slice: string, r: number, f: number) => [
      slice,
      r.toFixed(1),
      f.toFixed(1),
      (r - f).toFixed(1),
    ]
    return [
      `### Profile (main thread at max rate, ${connections} connections: µs of CPU per delivered event, by slice)`,
      '',
      markdownTable(
        ['slice', 'relay µs', 'floor µs', 'relay - floor'],
        [
          ...shown.map((r) => row(r.slice, r.relay, r.floor)),
          row(`${rest.length} slices under 1 µs`, sum(rest, 'relay'), sum(rest, 'floor')),
          row('all', relay.busyUs / relay.delivered, floor.busyUs / floor.delivered),
        ],
      ),
      '',
      `Delivered: relay ${fmt.int(relay.delivered)}, floor ${fmt.int(floor.delivered)}. ` +
        `Flame graphs: ${flameDir}/flame-relay.svg, flame-durable-floor.svg. ` +
        "A slice is the innermost frame's file or package; a native function counts for its caller.",
    ].join('\n')
  } finally {
    await sink.child.stop(2000)
  }
}
