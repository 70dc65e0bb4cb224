import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { freePort } from '../test/support/free-port.ts'
import { type Child, makeTempDir, startChild, waitForHttp } from './support.ts'
import { idFromKey } from './whatsgate-event.ts'

// The relay takes tokens of 16 characters or more.
export const INGEST_TOKEN = 'bench-token-0123456789'

export interface Relay {
  child: Child
  port: number
  dataDir: string
  baseUrl: string
  ingestUrl: string
}

/** Settings of the caller's shell that would change what is measured, or send traffic off this machine. */
const STRIPPED_ENV = [
  'DATABASE_URL',
  'FORWARD_URL',
  'TARGETS',
  'TARGETS_FILE',
  'PUBLIC_URL',
  'ADMIN_TOKEN',
  'WHATSGATE_API_KEY',
  'WHATSGATE_WHATSAPP_IDS',
  'WHATSGATE_API_URL',
]

export interface RelayOptions {
  /** The sink: one target for every event. */
  forwardUrl?: string
  /** The sink target's concurrency; default the relay's own default. */
  concurrency?: number
}

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const port = await freePort()
  const dataDir = makeTempDir('relay-data')
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of STRIPPED_ENV) delete env[name]
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    INGEST_TOKEN,
    LOG_LEVEL: process.env.BENCH_RELAY_LOG_LEVEL ?? 'warn',
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
  const child = startChild('relay', [process.env.BENCH_RELAY_ENTRY ?? 'src/main.ts'], { env })
  const baseUrl = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${baseUrl}/healthz`, child)
  } catch (error) {
    await child.stop(2000)
    throw error
  }
  return { child, port, dataDir, baseUrl, ingestUrl: `${baseUrl}/webhook/${INGEST_TOKEN}` }
}

export interface StoredCount {
  file: string
  events: number
  deliveries: number | null
  /** The bench event ids found in events.key (`<whatsapp_id>:<event_action>:<id>`). */
  ids: Set<number>
}

/** Opens the relay's SQLite file read-only and counts what it holds. */
export function countStored(dataDir: string): StoredCount {
  const candidates = readdirSync(dataDir).filter((name) => !/-(wal|shm|journal)$/.test(name))
  const problems: string[] = []
  for (const name of candidates) {
    const file = join(dataDir, name)
    let db: DatabaseSync | undefined
    try {
      db = new DatabaseSync(file, { readOnly: true })
      const tables = db.prepare("select name from sqlite_master where type = 'table'").all()
      const names = new Set(tables.map((row) => String(row.name)))
      if (!names.has('events')) continue
      const events = Number(db.prepare('select count(*) as n from events').get()?.n)
      const deliveries = names.has('deliveries')
        ? Number(db.prepare('select count(*) as n from deliveries').get()?.n)
        : null
      const ids = new Set<number>()
      for (const row of db.prepare('select key from events').iterate()) ids.add(idFromKey(String(row.key)))
      return { file, events, deliveries, ids }
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      db?.close()
    }
  }
  throw new Error(
    `no SQLite file with an events table in ${dataDir} (files: ${candidates.join(', ') || 'none'}${problems.length ? `; ${problems.join('; ')}` : ''})`,
  )
}
