// /readyz means ready to take an event: not while the store refuses writes (a full disk, a
// database cut off), saying why, and ready again once it takes them. Time is a manual clock: the
// latest accept's outcome answers for a second (store/write-health.ts), after which a write probe asks.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { FRESH_MS } from '../../src/store/write-health.ts'
import { wgEvent } from '../support/events.ts'
import { createManualClock, type ManualClock } from '../support/manual-clock.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import { buildTestApp } from '../support/relay.ts'
import { startProxy } from '../support/tcp-proxy.ts'

type Relay = Awaited<ReturnType<typeof buildTestApp>>

let relay: Relay | null = null
afterEach(async () => {
  await relay?.close()
  relay = null
})

async function readyz(app: Relay['app'], clock: ManualClock) {
  // Past the latest write's second: the answer is the probe's.
  clock.advance(FRESH_MS)
  const answer = await app.inject({ url: '/readyz' })
  return { status: answer.statusCode, body: answer.json() }
}

/** A small tmpfs of its own, or why there cannot be one (mounting needs root). */
function mountTmpfs(): { dir: string | null; skip: string | null } {
  const dir = mkdtempSync(join(tmpdir(), 'readyz-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' })
    return { dir, skip: null }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    return { dir: null, skip: `cannot mount a tmpfs here (${String(error).split('\n')[0]})` }
  }
}

/** Writes a file until the file system is full. */
function fill(path: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1)
  let size = chunk.length
  for (;;) {
    try {
      writeFileSync(path, chunk.subarray(0, size), { flag: 'a' })
    } catch {
      if (size === 1) return
      size = Math.max(1, size >> 2)
    }
  }
}

const tmpfs = process.platform === 'linux' ? mountTmpfs() : { dir: null, skip: 'not Linux' }
describe.skipIf(tmpfs.skip !== null)(
  `sqlite: a full disk${tmpfs.skip ? ` (skipped: ${tmpfs.skip})` : ''}`,
  () => {
    afterAll(() => {
      if (tmpfs.dir === null) return
      execFileSync('umount', [tmpfs.dir])
      rmSync(tmpfs.dir, { recursive: true, force: true })
    })

    it('makes /readyz 503 with SQLITE_FULL and webhooks 503; both recover once there is room', async () => {
      const dataDir = join(tmpfs.dir as string, 'data')
      mkdirSync(dataDir)
      const clock = createManualClock()
      relay = await buildTestApp({}, dataDir, { clock })
      const { app } = relay
      expect(await readyz(app, clock)).toMatchObject({ status: 200, body: { status: 'ready', store: 'ok' } })
      expect((await relay.post(wgEvent({ id: 1 }))).statusCode).toBe(200)

      const filler = join(tmpfs.dir as string, 'filler')
      fill(filler)
      const big = wgEvent({ id: 2, text: 'x'.repeat(200_000) })
      expect((await relay.post(big)).statusCode).toBe(503)
      // At once, from the failed write, and after its second, from the probe.
      const refusing = {
        status: 503,
        body: {
          status: 'unavailable',
          store: 'refusing writes',
          reason: 'SQLITE_FULL: database or disk is full',
        },
      }
      const atOnce = await app.inject({ url: '/readyz' })
      expect({ status: atOnce.statusCode, body: atOnce.json() }).toMatchObject(refusing)
      expect(await readyz(app, clock)).toMatchObject(refusing)
      expect(await readyz(app, clock)).toMatchObject(refusing)

      rmSync(filler)
      expect(await readyz(app, clock)).toMatchObject({ status: 200, body: { status: 'ready' } })
      expect((await relay.post(big)).json()).toEqual({ result: 'OK', id: 2 })
    })
  },
)

describe.skipIf(postgresSkipReason !== null)(
  `postgres: a database cut off${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('makes /readyz 503 with the reason and webhooks 503; both recover with the connection', async () => {
      const schema = await freshSchema('readyz')
      const target = new URL(schema.url)
      const proxy = await startProxy(target.hostname, Number(target.port || 5432))
      try {
        const viaProxy = new URL(schema.url)
        viaProxy.hostname = '127.0.0.1'
        viaProxy.port = String(proxy.port)
        const clock = createManualClock()
        relay = await buildTestApp({ DATABASE_URL: viaProxy.toString() }, undefined, { clock })
        const { app } = relay
        expect(await readyz(app, clock)).toMatchObject({ status: 200, body: { store: 'ok' } })

        await proxy.stop()
        const down = await readyz(app, clock)
        expect(down).toMatchObject({ status: 503, body: { status: 'unavailable', store: 'refusing writes' } })
        expect(down.body.reason).toMatch(/^ECONNREFUSED: |Connection terminated/)
        expect((await relay.post(wgEvent({ id: 1 }))).statusCode).toBe(503)

        await proxy.start()
        expect(await readyz(app, clock)).toMatchObject({ status: 200, body: { status: 'ready' } })
        expect((await relay.post(wgEvent({ id: 1 }))).json()).toEqual({ result: 'OK', id: 1 })
      } finally {
        await relay?.close()
        relay = null
        await proxy.stop()
        await schema.drop()
      }
    })
  },
)
