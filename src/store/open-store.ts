// Picks the outbox the configuration asks for: PostgreSQL when DATABASE_URL is set (replicas share
// it), else the SQLite file in DATA_DIR. The PostgreSQL driver loads only when it is used.
import type { Logger } from 'pino'
import { openSqliteStore } from './sqlite-store.ts'
import type { OutboxStore } from './types.ts'

export interface OpenStoreOptions {
  /** PostgreSQL outbox shared by replicas; null = the SQLite file at sqlitePath. */
  databaseUrl: string | null
  sqlitePath: string
  log: Logger
}

export async function openStore({ databaseUrl, sqlitePath, log }: OpenStoreOptions): Promise<OutboxStore> {
  if (databaseUrl === null) return openSqliteStore({ path: sqlitePath })
  const { openPostgresStore } = await import('./postgres-store.ts')
  return openPostgresStore({
    url: databaseUrl,
    onIdleError: (error) => log.warn({ err: error }, 'a PostgreSQL connection failed; it will be replaced'),
  })
}
