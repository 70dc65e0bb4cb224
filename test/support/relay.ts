// Builds the real app on a fresh data folder, as the tests' relay.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { pino } from 'pino'
import { afterAll } from 'vitest'
import { type BuildAppOptions, buildApp } from '../../src/app.ts'
import type { RelayOptions } from '../../src/relay.ts'

export const TEST_TOKEN = 'test-token-0123456789'
/**
 * FORWARD_SECRET for replicas on PostgreSQL, which must share one (a single relay makes its own in
 * DATA_DIR).
 */
export const REPLICA_SIGNING_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`

export function tempDir(prefix = 'relay-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A maker of fresh folders for one test file; they are removed after its tests. */
export function tempDirsOfFile(prefix: string): () => string {
  const dirs: string[] = []
  afterAll(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    const dir = tempDir(prefix)
    dirs.push(dir)
    return dir
  }
}

/** `options`: the relay's clock and delays (a test's manual clock, short retries), a logger to read. */
export async function buildTestApp(
  env: Record<string, string> = {},
  dataDir = tempDir(),
  options: RelayOptions & Pick<BuildAppOptions, 'logger'> = {},
) {
  const app = await buildApp({
    env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN, SHUTDOWN_TIMEOUT_MS: '1000', ...env },
    ...options,
    logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  })
  const webhookPath = `/webhook/${TEST_TOKEN}`
  return {
    app,
    dataDir,
    webhookPath,
    /** WhatsGate posting one event body, through the app. */
    post: (body: string | Buffer) =>
      app.inject({
        method: 'POST',
        url: webhookPath,
        payload: body,
        headers: { 'content-type': 'application/json' },
      }),
    async close() {
      await app.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Reads the outbox file directly, as an operator with the sqlite3 shell would. */
export function readOutbox(dataDir: string) {
  const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
  try {
    const events = db.prepare('SELECT key, body, action FROM events ORDER BY seq').all() as {
      key: string
      body: Uint8Array
      action: string
    }[]
    const deliveries = db
      .prepare(
        `SELECT d.target, e.key, d.status, d.attempts, d.last_status AS lastStatus, d.last_error AS lastError
         FROM deliveries d JOIN events e ON e.seq = d.event_seq ORDER BY d.id`,
      )
      .all() as {
      target: string
      key: string
      status: string
      attempts: number
      lastStatus: number | null
      lastError: string | null
    }[]
    return { events: events.map((e) => ({ ...e, body: Buffer.from(e.body) })), deliveries }
  } finally {
    db.close()
  }
}

/** The lease owner of every delivery, in id order (null = free to claim). */
export function readLeases(dataDir: string): (string | null)[] {
  const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
  try {
    return db
      .prepare('SELECT lease_owner FROM deliveries ORDER BY id')
      .all()
      .map((r) => r.lease_owner as string | null)
  } finally {
    db.close()
  }
}
