// Rolling backups of the SQLite outbox (BACKUP_DIR, BACKUP_EVERY, BACKUP_KEEP): every interval a
// backup as `whatsgate-relay backup` takes one (sqlite-backup.ts: VACUUM INTO, checked, synced),
// off the event loop, into a file named by its time; the oldest beyond BACKUP_KEEP are deleted.
// The next is due an interval after the newest in the folder, so restarts neither skip nor repeat
// one. A failure is logged and counted, and the next interval tries again: the relay goes on.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { type Clock, systemClock } from '../shared/clock.ts'
import { backupSqliteOffThread } from './sqlite-backup.ts'

export interface BackupScheduleDeps {
  sqlitePath: string
  dir: string
  everyMs: number
  keep: number
  log: Logger
  clock?: Clock
  /** Takes one backup into `file`; the off-thread backup by default. */
  backup?: (sqlitePath: string, file: string) => Promise<{ events: number }>
  /** Each backup's outcome, for the metrics. */
  onBackup?: (outcome: 'ok' | 'failed') => void
}

const NAME = /^relay-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z\.sqlite$/

/** `relay-2026-12-07T06-00-00-000Z.sqlite`: sorts by time, and no colon (some file systems refuse it). */
export const backupFileName = (at: number) =>
  `relay-${new Date(at).toISOString().replace(/[:.]/g, '-')}.sqlite`

/** When a backup file name says it was taken; null for any other file. */
function takenAt(name: string): number | null {
  const match = NAME.exec(name)
  if (!match) return null
  const [, date, hours, minutes, seconds, ms] = match
  return Date.parse(`${date}T${hours}:${minutes}:${seconds}.${ms}Z`)
}

export function createBackupSchedule(deps: BackupScheduleDeps) {
  const { sqlitePath, dir, everyMs, keep, log } = deps
  const clock = deps.clock ?? systemClock
  const backup = deps.backup ?? backupSqliteOffThread
  let cancelTimer: (() => void) | null = null
  let running: Promise<void> | null = null
  let stopped = false

  /** The backups in the folder, oldest first. */
  function backups(): { name: string; at: number }[] {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map(({ name }) => ({ name, at: takenAt(name) }))
      .filter((file): file is { name: string; at: number } => file.at !== null)
      .sort((a, b) => a.at - b.at)
  }

  async function takeOne(): Promise<void> {
    const started = clock.now()
    const file = join(dir, backupFileName(started))
    const timer = performance.now()
    try {
      const { events } = await backup(sqlitePath, file)
      const ms = Math.round(performance.now() - timer)
      log.info({ file, bytes: statSync(file).size, events, ms }, 'backup taken')
      deps.onBackup?.('ok')
      for (const old of backups().slice(0, -keep)) {
        rmSync(join(dir, old.name), { force: true })
        log.info({ file: join(dir, old.name) }, 'old backup deleted')
      }
    } catch (error) {
      log.error({ err: error, file }, 'backup failed; the next interval tries again')
      deps.onBackup?.('failed')
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return
    cancelTimer = clock.setTimer(
      () => {
        cancelTimer = null
        running = takeOne().finally(() => {
          running = null
          schedule(everyMs)
        })
      },
      Math.max(0, delayMs),
    )
  }

  return {
    name: 'backups' as const,
    start() {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      // A backup cut by a stop leaves its temporary file (sqlite-backup.ts): gone at the next start.
      for (const name of readdirSync(dir)) {
        if (/^relay-.*\.sqlite\.[0-9a-f]+\.tmp$/.test(name)) rmSync(join(dir, name), { force: true })
      }
      const newest = backups().at(-1)
      schedule(newest ? newest.at + everyMs - clock.now() : 0)
    },
    /** A backup under way finishes (the worker cannot be cut cleanly mid-copy): it is waited for. */
    async stop(_deadline: number) {
      stopped = true
      cancelTimer?.()
      cancelTimer = null
      await running
    },
    /** The backups kept, oldest first (for tests and the status). */
    list: () => backups().map((file) => join(dir, file.name)),
  }
}
