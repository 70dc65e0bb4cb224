// Picks the outbox a Config asks for: PostgreSQL when DATABASE_URL is set (replicas share it),
// else the SQLite file in DATA_DIR. The PostgreSQL driver loads only when it is used.
import type { Logger } from 'pino'
import type { Config } from '../config/index.ts'
import { openSqliteStore } from './sqlite-store.ts'
import type { OutboxStore } from './types.ts'

export async function openStore(config: Config, log: Logger): Promise<OutboxStore> {
  if (config.databaseUrl === null) return openSqliteStore({ path: config.sqlitePath })
  const { openPostgresStore } = await import('./postgres-store.ts')
  return openPostgresStore({
    url: config.databaseUrl,
    onIdleError: (error) => log.warn({ err: error }, 'a PostgreSQL connection failed; it will be replaced'),
  })
}
