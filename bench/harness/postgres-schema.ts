// PostgreSQL for the benches that run the relay on it (chaos, pipeline with BENCH_DATABASE_URL):
// a schema of its own per run, dropped afterwards unless BENCH_KEEP=1.
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * A fresh schema of the database for one run, and a DATABASE_URL per process that names it (its
 * connections carry the schema in their application_name, so `cut` finds this run's alone).
 */
export async function freshSchema(baseUrl: string, prefix = 'bench_chaos') {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: baseUrl })
    await client.connect()
    try {
      return await client.query(sql)
    } finally {
      await client.end()
    }
  }
  await admin(`CREATE SCHEMA ${schema}`)
  const url = (name?: string) => {
    const withSchema = new URL(baseUrl)
    withSchema.searchParams.set('options', `-c search_path=${schema}`)
    // The name pg_terminate_backend looks for: this scenario's connections, no one else's.
    if (name) withSchema.searchParams.set('application_name', `${schema}_${name}`)
    return withSchema.toString()
  }
  return {
    url,
    /** Terminates every connection of this scenario's relays; returns how many. */
    cut: async () => {
      const { rows } = await admin(
        `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name LIKE '${schema}\\_%'`,
      )
      return Number(rows[0]?.n)
    },
    drop: async () => {
      if (process.env.BENCH_KEEP !== '1') await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    },
  }
}
