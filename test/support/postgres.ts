// The PostgreSQL that tests may use: TEST_DATABASE_URL (.ci/run sets it), else the local default
// DEFAULT_TEST_DATABASE_URL when it answers. When neither can be used the PostgreSQL tests skip
// and say why; with TEST_DATABASE_REQUIRED set (.ci/run sets it too) they fail the run instead, so
// CI can never pass with those tests quietly skipped. A TEST_DATABASE_URL that is set but
// unreachable is never a skip: the tests fail.
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The database a developer's machine (and .ci/run) has: tried when TEST_DATABASE_URL is unset. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test'

/** Null when the database at `url` answers a query within 2 s, else why not. */
async function unreachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  // A refused or cut connection also emits 'error' on the client; the rejected connect() says it.
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return (error as Error).message || String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

const defaultProblem = process.env.TEST_DATABASE_URL ? null : await unreachable(DEFAULT_TEST_DATABASE_URL)

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL || (defaultProblem === null ? DEFAULT_TEST_DATABASE_URL : null)

/** Why the PostgreSQL tests skip (also printed once), or null when they run. */
export const postgresSkipReason =
  TEST_DATABASE_URL === null
    ? `TEST_DATABASE_URL is not set and ${DEFAULT_TEST_DATABASE_URL} does not answer (${defaultProblem})`
    : null

if (postgresSkipReason && process.env.TEST_DATABASE_REQUIRED) {
  throw new Error(`TEST_DATABASE_REQUIRED is set but ${postgresSkipReason}: the PostgreSQL tests cannot run`)
}
if (postgresSkipReason) console.warn(`PostgreSQL tests skipped: ${postgresSkipReason}`)

function testUrl(): string {
  if (TEST_DATABASE_URL === null) throw new Error(`no PostgreSQL to test on: ${postgresSkipReason}`)
  return TEST_DATABASE_URL
}

/** Runs `work` on a connection of its own to the test database. */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>, url = testUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** `url` with its tables looked up in `schema` (search_path through the `options` parameter). */
export function urlWithSchema(url: string, schema: string): string {
  const withSchema = new URL(url)
  withSchema.searchParams.set('options', `-c search_path=${schema}`)
  return withSchema.toString()
}

export interface TestSchema {
  name: string
  /** The test database's URL, pointed at this schema. */
  url: string
  drop(): Promise<void>
}

/** A new, empty schema in the test database; drop() removes it and everything in it. */
export async function freshSchema(prefix = 'relay_test'): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await withAdmin((client) => client.query(`CREATE SCHEMA ${name}`))
  return {
    name,
    url: urlWithSchema(testUrl(), name),
    drop: () => withAdmin((client) => client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)).then(() => {}),
  }
}

/** A new, empty database next to the test one, for relay processes that use it unchanged. */
export async function freshDatabase(prefix = 'relay_test'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(testUrl())
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () =>
      withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}
