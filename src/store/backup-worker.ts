// Runs one backup (sqlite-backup.ts) on a worker thread: VACUUM INTO is a synchronous call that
// takes seconds on a big outbox, and the relay's event loop must go on answering meanwhile.
import { parentPort, workerData } from 'node:worker_threads'
import { backupSqlite } from './sqlite-backup.ts'

const { sqlitePath, file } = workerData as { sqlitePath: string; file: string }
try {
  parentPort?.postMessage({ events: backupSqlite(sqlitePath, file).events })
} catch (error) {
  parentPort?.postMessage({ error: (error as Error).message })
}
