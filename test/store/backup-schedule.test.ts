// Rolling backups (BACKUP_DIR, BACKUP_EVERY, BACKUP_KEEP) in a real relay on a manual clock: one
// at start and one each interval, the oldest deleted beyond the limit, a failure logged and
// counted and the next interval trying again; the newest restores through `restore` and holds
// every event stored before it. Refused with DATABASE_URL.
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.ts'
import { backupFileName } from '../../src/store/backup-schedule.ts'
import { cli } from '../cli/admin-relay.ts'
import { wgEvent } from '../support/events.ts'
import { captureLogger } from '../support/fake-whatsgate.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { buildTestApp, readOutbox, TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'

const freshDir = tempDirsOfFile('relay-backups-')
const HOUR = 3_600_000
const ADMIN_TOKEN = 'backup-schedule-admin-token'
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe('rolling backups', () => {
  it('takes one per interval, keeps BACKUP_KEEP, survives a failure, and the newest restores', async () => {
    const backupDir = join(freshDir(), 'backups')
    const clock = createManualClock()
    const capture = captureLogger('info')
    const relay = await buildTestApp(
      { BACKUP_DIR: backupDir, BACKUP_EVERY: '1h', BACKUP_KEEP: '2', ADMIN_TOKEN },
      freshDir(),
      { clock, logger: capture.log },
    )
    cleanups.push(() => relay.app.close())
    await relay.app.ready()
    const files = () =>
      readdirSync(backupDir, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name)
        .sort()
    const taken = () => capture.entries().filter((entry) => entry.msg === 'backup taken')
    const failed = () => capture.entries().filter((entry) => entry.msg.startsWith('backup failed'))
    /** The next backup is waiting on the clock, an hour away. */
    const waiting = () => until(() => clock.pending().includes(HOUR), 'the next backup scheduled')

    // The first at start, of the empty outbox.
    await until(() => taken().length === 1, 'the first backup')
    const first = taken()[0]?.file as string
    expect(files()).toEqual([basename(first)])
    await waiting()

    let id = 0
    const post = async (count: number) => {
      for (let i = 0; i < count; i++) expect((await relay.post(wgEvent({ id: ++id }))).statusCode).toBe(200)
    }
    await post(10)
    clock.advance(HOUR)
    await until(() => taken().length === 2, 'the second backup')
    await waiting()
    expect(files()).toHaveLength(2)

    // The third would be where a folder stands: it fails, is logged and counted, and the relay goes on.
    mkdirSync(join(backupDir, backupFileName(clock.now() + HOUR)))
    await post(5)
    clock.advance(HOUR)
    await until(() => failed().length === 1, 'the failed backup')
    await waiting()
    expect(failed()[0]).toMatchObject({ level: 50, err: { message: expect.stringContaining('exists') } })
    expect(taken()).toHaveLength(2)

    await post(5)
    clock.advance(HOUR)
    await until(() => taken().length === 3, 'the backup after the failure')
    await waiting()
    // Two kept: the first (of the empty outbox) is deleted; the folder in the way is no backup.
    expect(files()).toHaveLength(2)
    expect(files()[0]).toBe(basename(taken()[1]?.file as string))
    const newest = join(backupDir, files().at(-1) as string)
    expect(taken().at(-1)).toMatchObject({ file: newest, events: 20, bytes: expect.any(Number) })
    expect(existsSync(first)).toBe(false)

    const metrics = await relay.app.inject({
      url: '/metrics',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(metrics.body).toContain('whatsgate_relay_backups_total{outcome="ok"} 3')
    expect(metrics.body).toContain('whatsgate_relay_backups_total{outcome="failed"} 1')

    // The newest restores on a new DATA_DIR and holds the 20 events.
    const dataDir = freshDir()
    const staged = await cli(['restore', newest], { env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN } })
    expect(staged.code).toBe(0)
    const restored = await buildTestApp({ ADMIN_TOKEN: 'off' }, dataDir)
    await restored.app.ready()
    await restored.app.close()
    expect(readOutbox(dataDir).events.map((event) => JSON.parse(event.body.toString()).id)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
  })

  it('is refused with DATABASE_URL, and BACKUP_EVERY without BACKUP_DIR', async () => {
    const base = { INGEST_TOKEN: TEST_TOKEN, DATA_DIR: freshDir(), ADMIN_TOKEN: 'off' }
    const load = (env: Record<string, string>) => loadConfig({ ...base, ...env }, () => {})
    await expect(
      load({ DATABASE_URL: 'postgres://relay@127.0.0.1/relay', BACKUP_DIR: freshDir() }),
    ).rejects.toThrow(/BACKUP_DIR: backs up the SQLite outbox only; with DATABASE_URL .*pg_dump/)
    await expect(load({ BACKUP_EVERY: '6h' })).rejects.toThrow(/BACKUP_EVERY: needs BACKUP_DIR/)
    await expect(load({ BACKUP_DIR: freshDir(), BACKUP_EVERY: '6 hours' })).rejects.toThrow(
      /BACKUP_EVERY: must be a whole number and a unit/,
    )
    expect((await load({ BACKUP_DIR: '/b', BACKUP_EVERY: '90m' })).config.backups).toEqual({
      dir: '/b',
      everyMs: 90 * 60_000,
      keep: 7,
    })
  })
})
