// Picks the outbox the configuration asks for: PostgreSQL when DATABASE_URL is set (replicas share
// it), else the SQLite file in DATA_DIR. The PostgreSQL driver loads only when it is used.
import type { Logger } from 'pino'
import type { Clock } from '../shared/clock.ts'
import { applyStagedRestore } from './sqlite-backup.ts'
import { openSqliteStore } from './sqlite-store.ts'
import type { OutboxStore } from './types.ts'

export interface OpenStoreOptions {
  /** PostgreSQL outbox shared by replicas; null = the SQLite file at sqlitePath. */
  databaseUrl: string | null
  sqlitePath: string
  /** SQLITE_WAL_AUTOCHECKPOINT and UNSAFE_NO_SYNC_FOR_BENCH: for benches and tests only. */
  sqliteBench?: { walAutocheckpoint: number | null; unsafeNoSync: boolean }
  log: Logger
  /** Stamps each accepted event's received time (tests hold it still). */
  clock?: Clock
}

export async function openStore({
  databaseUrl,
  sqlitePath,
  sqliteBench,
  log,
  clock,
}: OpenStoreOptions): Promise<OutboxStore> {
  if (databaseUrl === null) {
    const restored = applyStagedRestore(sqlitePath)
    if (restored) log.warn(restored, 'outbox restored from a backup; the one it replaced is kept')
    if (sqliteBench?.unsafeNoSync)
      log.warn('UNSAFE_NO_SYNC_FOR_BENCH is set: SQLite does not sync, a power cut loses acknowledged events')
    return openSqliteStore({
      path: sqlitePath,
      clock,
      walAutocheckpoint: sqliteBench?.walAutocheckpoint ?? undefined,
      unsafeNoSync: sqliteBench?.unsafeNoSync,
    })
  }
  const { openPostgresStore } = await import('./postgres-store.ts')
  return openPostgresStore({
    url: databaseUrl,
    clock,
    // pg-pool hangs the broken client on its error: log what went wrong, not the client's whole
    // state (several KB a line, its connection settings among them).
    onIdleError: ({ message, code }: Error & { code?: string }) =>
      log.warn({ code, reason: message }, 'a PostgreSQL connection failed; it will be replaced'),
  })
}
