// The servers under load, each a child process on 127.0.0.1: the relay, the bare baselines
// (bare-server.ts, durable-floor.ts) and the delivery target (sink-server.ts).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { idFromKey } from './event.ts'
import { type Child, makeTempDir, projectRoot, startServer } from './process.ts'
import type { SinkDump, SinkStats } from './sink-server.ts'

/** A server that takes WhatsGate events at `url`. */
export interface Target {
  child: Child
  url: string
}

export interface Relay extends Target {
  dataDir: string
}

/** The flags `npm start` gives node (package.json), so that the relay runs here as users run it. */
const START_FLAGS = (
  JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start
  .split(' ')
  .filter((word) => word.startsWith('--'))

// The relay takes tokens of 16 characters or more.
const INGEST_TOKEN = 'bench-token-0123456789'
const BENCH_SIGNING_SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`

/** Settings of the caller's shell that would change what is measured, or send traffic off this machine. */
const STRIPPED_ENV = [
  'DATABASE_URL',
  'FORWARD_URL',
  'FORWARD_SECRET',
  'TARGETS',
  'TARGETS_FILE',
  'PUBLIC_URL',
  'ADMIN_TOKEN',
  'WHATSGATE_API_KEY',
  'WHATSGATE_WHATSAPP_IDS',
  'WHATSGATE_API_URL',
]

/**
 * The relay with a fresh DATA_DIR (or `dataDir`, already filled) and, with `forwardUrl`, one target
 * for every event; `env` adds settings (ADMIN_TOKEN, DATABASE_URL, ...) after the caller's are stripped.
 */
export async function startRelay(
  options: {
    forwardUrl?: string
    concurrency?: number
    dataDir?: string
    env?: NodeJS.ProcessEnv
    /** One target of any kind (a broker's `type`, `url` and fields), instead of `forwardUrl`. */
    target?: Record<string, unknown>
    /** Keep every line the relay writes (child.log.all). */
    keepLog?: boolean
    /** Node flags beside `npm start`'s (a CPU profile's). */
    nodeFlags?: string[]
  } = {},
): Promise<Relay> {
  const dataDir = options.dataDir ?? makeTempDir('relay-data')
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of STRIPPED_ENV) delete env[name]
  Object.assign(env, options.env, {
    DATA_DIR: dataDir,
    INGEST_TOKEN,
    LOG_LEVEL: process.env.BENCH_RELAY_LOG_LEVEL ?? 'warn',
    // Every HTTP target is signed; replicas on PostgreSQL must share the secret.
    FORWARD_SECRET: BENCH_SIGNING_SECRET,
    // Should anything still call WhatsGate, it reaches a closed local port, not the internet.
    WHATSGATE_API_URL: 'http://127.0.0.1:9/api/v1',
  })
  if (options.forwardUrl) {
    // BENCH_TARGET (JSON, e.g. {"ordering":"chat"}) measures other settings of the one target.
    const target = {
      name: 'bench-sink',
      url: options.forwardUrl,
      events: ['*'],
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...JSON.parse(process.env.BENCH_TARGET ?? '{}'),
    }
    env.TARGETS = JSON.stringify([target])
  }
  if (options.target) {
    const target = { name: 'bench-target', events: ['*'], ...options.target }
    env.TARGETS = JSON.stringify([{ ...target, ...JSON.parse(process.env.BENCH_TARGET ?? '{}') }])
  }
  const entry = process.env.BENCH_RELAY_ENTRY ?? 'src/main.ts'
  const { child, origin } = await startServer('relay', entry, env, {
    nodeFlags: [...START_FLAGS, ...(options.nodeFlags ?? [])],
    keepLog: options.keepLog,
  })
  return { child, dataDir, url: `${origin}/webhook/${INGEST_TOKEN}` }
}

/** bare-server.ts: the ingest baseline, or with `forward` the pipeline's bare forwarder. */
export async function startBare(forward?: { url: string; connections: number }): Promise<Target> {
  const { FORWARD_URL: _, ...env } = process.env
  if (forward)
    Object.assign(env, { FORWARD_URL: forward.url, FORWARD_CONNECTIONS: String(forward.connections) })
  const name = forward ? 'forwarder' : 'bare'
  const { child, origin } = await startServer(name, 'bench/harness/bare-server.ts', env)
  return { child, url: `${origin}/webhook/x` }
}

/** durable-floor.ts: the pipeline's durable floor, appending to a file in a fresh directory. */
export async function startDurableFloor(
  forward: { url: string; connections: number },
  nodeFlags: string[] = [],
): Promise<Target> {
  const { FORWARD_URL: _, ...env } = process.env
  Object.assign(env, {
    FORWARD_URL: forward.url,
    FORWARD_CONNECTIONS: String(forward.connections),
    DATA_DIR: makeTempDir('floor'),
  })
  const { child, origin } = await startServer('floor', 'bench/harness/durable-floor.ts', env, { nodeFlags })
  return { child, url: `${origin}/webhook/x` }
}

export type Sink = Awaited<ReturnType<typeof startSink>>

/** The sink, on `port` when given (a target that comes back where the relay expects it). */
export async function startSink(port?: number) {
  const { child, origin } = await startServer('sink', 'bench/harness/sink-server.ts', process.env, { port })
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(15_000) })
    if (!response.ok) throw new Error(`sink answered ${response.status} to ${path}`)
    return (await response.json()) as T
  }
  return {
    child,
    url: `${origin}/hook`,
    /** Starts a run: events with an id below `minId` belong to an earlier run and are only counted. */
    reset: (minId: number) => get<SinkStats>(`/reset?minId=${minId}`),
    stats: () => get<SinkStats>('/stats'),
    dump: () => get<SinkDump>('/dump'),
  }
}

export interface StoredCount {
  events: number
  deliveries: number
  /** The bench event ids found in events.key (`<whatsapp_id>:<event_action>:<id>`). */
  ids: Set<number>
}

/** Opens the relay's SQLite file read-only and counts what it holds. */
export function countStored(dataDir: string): StoredCount {
  const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
  try {
    const count = (table: string) => Number(db.prepare(`select count(*) as n from ${table}`).get()?.n)
    const ids = new Set<number>()
    for (const row of db.prepare('select key from events').iterate()) ids.add(idFromKey(String(row.key)))
    return { events: count('events'), deliveries: count('deliveries'), ids }
  } finally {
    db.close()
  }
}
