// Backups of the SQLite outbox: a consistent copy taken while the relay runs (VACUUM INTO reads one
// snapshot of the file, and in WAL mode the relay's writes go on meanwhile), checked before it is
// trusted, and put back by the relay's next start, never under a running one.
import { randomBytes } from 'node:crypto'
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs'
import { dirname, extname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { SQLITE_MIGRATIONS } from './sqlite-schema.ts'

export class BackupError extends Error {
  override name = 'BackupError'
}

/** Where a restore waits for the relay's next start, beside the outbox. */
export const stagedRestorePath = (sqlitePath: string) => `${sqlitePath}.restore`

/** Copies the outbox at `sqlitePath` into `file` (which must not exist); returns its event count. */
export function backupSqlite(sqlitePath: string, file: string): { events: number } {
  if (!existsSync(sqlitePath)) throw new BackupError(`no outbox at ${sqlitePath}`)
  if (existsSync(file)) throw new BackupError(`${file} exists: give a new file`)
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const db = new DatabaseSync(sqlitePath, { readOnly: true, timeout: 5000 })
  try {
    db.prepare('VACUUM INTO ?').run(temporary)
  } finally {
    db.close()
  }
  try {
    syncFile(temporary)
    const checked = checkBackup(temporary)
    renameSync(temporary, file)
    syncFile(dirname(file))
    return checked
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/**
 * backupSqlite on a worker thread, for the running relay (store/backup-schedule.ts): its event
 * loop goes on meanwhile. The worker is this module's neighbour, .ts or .js as this one is (dist/).
 */
export function backupSqliteOffThread(sqlitePath: string, file: string): Promise<{ events: number }> {
  const worker = new URL(`./backup-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)
  return new Promise((resolve, reject) => {
    const thread = new Worker(worker, { workerData: { sqlitePath, file } })
    thread.once('message', (message: { events?: number; error?: string }) => {
      if (message.error !== undefined) reject(new BackupError(message.error))
      else resolve({ events: message.events ?? 0 })
    })
    thread.once('error', reject)
    thread.once('exit', (code) => reject(new BackupError(`the backup thread stopped (exit code ${code})`)))
  })
}

/** Throws BackupError unless `file` is a whole outbox this relay can open; returns its event count. */
export function checkBackup(file: string): { events: number } {
  let db: DatabaseSync
  try {
    db = new DatabaseSync(file, { readOnly: true })
  } catch (error) {
    throw new BackupError(`${file} cannot be opened: ${(error as Error).message}`)
  }
  try {
    const integrity = db.prepare('PRAGMA integrity_check').get()?.integrity_check
    if (integrity !== 'ok') throw new BackupError(`${file} is damaged: ${String(integrity)}`)
    const version = Number(db.prepare('PRAGMA user_version').get()?.user_version)
    if (version < 1 || version > SQLITE_MIGRATIONS.length) {
      throw new BackupError(`${file} is not an outbox of this relay (schema version ${version})`)
    }
    return { events: Number(db.prepare('SELECT count(*) AS n FROM events').get()?.n) }
  } catch (error) {
    if (error instanceof BackupError) throw error
    throw new BackupError(`${file} is not an outbox of this relay: ${(error as Error).message}`)
  } finally {
    db.close()
  }
}

/** Checks `file` and leaves a copy beside the outbox, for the relay's next start to put in place. */
export function stageRestore(sqlitePath: string, file: string): { events: number } {
  const checked = checkBackup(file)
  const staged = stagedRestorePath(sqlitePath)
  copyFileSync(file, `${staged}.tmp`)
  syncFile(`${staged}.tmp`)
  renameSync(`${staged}.tmp`, staged)
  syncFile(dirname(staged))
  return checked
}

/**
 * At start, before the outbox opens: a staged restore replaces it. The outbox it replaces is kept
 * beside it, with its WAL (committed writes may still be there), as `relay.sqlite.replaced-<time>`.
 * Returns null when nothing was staged, else where the replaced outbox went (null: there was none).
 */
export function applyStagedRestore(sqlitePath: string, now = new Date()): { replaced: string | null } | null {
  const staged = stagedRestorePath(sqlitePath)
  if (!existsSync(staged)) return null
  checkBackup(staged)
  const kept = `${sqlitePath}.replaced-${now.toISOString().replaceAll(':', '-')}`
  if (existsSync(sqlitePath)) {
    renameSync(sqlitePath, kept)
    if (existsSync(`${sqlitePath}-wal`)) renameSync(`${sqlitePath}-wal`, `${kept}-wal`)
  }
  // The shared-memory index belongs to the file replaced: SQLite rebuilds it.
  rmSync(`${sqlitePath}-shm`, { force: true })
  renameSync(staged, sqlitePath)
  syncFile(dirname(sqlitePath))
  return { replaced: existsSync(kept) ? kept : null }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
