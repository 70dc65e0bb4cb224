// The commands: point WhatsGate at the relay (or away from it) and fetch missed events, with the
// server's own configuration, WhatsGate client and accept path.
import type { Logger } from 'pino'
import { callbackUrlOf } from '../config/addresses.ts'
import type { Config } from '../config/config.ts'
import { createRelay } from '../relay.ts'
import { BackupError, backupSqlite, stageRestore } from '../store/sqlite-backup.ts'
import { createWhatsGateClient, type WhatsGateClient } from '../whatsgate/api-client.ts'
import { isUnauthorized, WhatsGateUnavailableError } from '../whatsgate/api-errors.ts'
import type { BackfillResult } from '../whatsgate/backfill.ts'
import { callbackUrl as registeredCallbackUrl } from '../whatsgate/integration.ts'
import type { Options } from './arguments.ts'
import type { Output } from './output.ts'

/** Exit 1: the command ran and failed; the message says what to fix. */
class CommandError extends Error {
  override name = 'CommandError'
}

export type { Output }

function requireSettings(config: Config, needs: { apiKey?: boolean; publicUrl?: boolean }): void {
  const missing = [
    needs.apiKey && !config.whatsgate.apiKey && 'WHATSGATE_API_KEY',
    needs.publicUrl && !config.publicUrl && 'PUBLIC_URL',
  ].filter(Boolean)
  if (missing.length > 0) {
    throw new CommandError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`)
  }
}

/** What a WhatsGate failure means for the operator, in one line. */
function explain(error: unknown, config: Config): string {
  if (isUnauthorized(error)) return 'WhatsGate rejected WHATSGATE_API_KEY (Unauthorized)'
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof WhatsGateUnavailableError)
    return `${message} (WHATSGATE_API_URL=${config.whatsgate.apiUrl})`
  return message
}

interface SessionRef {
  id: string
  /** The webhook sessions-get reported; undefined when the session was named, not discovered. */
  callback?: string
}

async function targetSessions(client: WhatsGateClient, config: Config, options: Options) {
  const named = options.sessions.length > 0 ? options.sessions : config.whatsgate.whatsappIds
  if (named.length > 0) return named.map((id): SessionRef => ({ id }))
  let listed: Awaited<ReturnType<WhatsGateClient['listAllSessions']>>
  try {
    listed = await client.listAllSessions()
  } catch (error) {
    throw new CommandError(explain(error, config))
  }
  if (listed.length === 0) {
    throw new CommandError('sessions-get lists no session; name one with --session or WHATSGATE_WHATSAPP_IDS')
  }
  return listed.map(
    (s): SessionRef => ({
      id: s.unique_id,
      ...(typeof s.callback === 'string' ? { callback: s.callback } : {}),
    }),
  )
}

/** set-hook for each session; an Unauthorized answer ends the run (it holds for every session). */
async function setHooks(
  config: Config,
  log: Logger,
  io: Output,
  options: Options,
  callback: string,
  plan: (session: SessionRef) => string | null,
  doneWord: string,
): Promise<void> {
  const apiKey = config.whatsgate.apiKey ?? ''
  const client = createWhatsGateClient({ baseUrl: config.whatsgate.apiUrl, apiKey, log })
  const sessions = await targetSessions(client, config, options)
  const width = Math.max(...sessions.map((s) => s.id.length))
  let done = 0
  let failed = 0
  let firstFailure = ''
  for (const session of sessions) {
    const skip = plan(session)
    if (skip !== null) {
      io.out(`${session.id.padEnd(width)}  ${skip}`)
      continue
    }
    try {
      await client.setHook(session.id, callback)
      done++
      io.out(`${session.id.padEnd(width)}  ${doneWord}`)
    } catch (error) {
      failed++
      firstFailure ||= `${session.id}: ${explain(error, config)}`
      io.out(`${session.id.padEnd(width)}  failed: ${explain(error, config)}`)
      if (isUnauthorized(error)) throw new CommandError(explain(error, config))
    }
  }
  io.out(`${doneWord} ${done}, unchanged ${sessions.length - done - failed}, failed ${failed}`)
  if (failed > 0) {
    throw new CommandError(`${failed} of ${sessions.length} session(s) failed (first: ${firstFailure})`)
  }
}

async function register(config: Config, log: Logger, io: Output, options: Options) {
  requireSettings(config, { apiKey: true, publicUrl: true })
  const callback = registeredCallbackUrl(config) as string
  // The token is the callback's only secret: shown masked, as the server's logs do.
  io.out(`callback: ${config.publicUrl}/webhook/[ingest token]`)
  await setHooks(
    config,
    log,
    io,
    options,
    callback,
    (s) => (s.callback === callback ? 'already registered' : null),
    'registered',
  )
}

async function unregister(config: Config, log: Logger, io: Output, options: Options) {
  requireSettings(config, { apiKey: true })
  const ours = `/webhook/${config.ingestToken}`
  // A discovered session may post to another system of the user's: leave it unless --force.
  const plan = (s: SessionRef) => {
    if (s.callback === undefined || options.force) return null
    if (s.callback === '') return 'already clear'
    return s.callback.endsWith(ours) ? null : 'left alone: its webhook points elsewhere (--force clears it)'
  }
  await setHooks(config, log, io, options, '', plan, 'cleared')
}

async function backfill(config: Config, log: Logger, io: Output, options: Options) {
  requireSettings(config, { apiKey: true })
  const relay = await createRelay(config, log)
  const whatsgate = relay.whatsgate
  if (!whatsgate) throw new CommandError('WHATSGATE_API_KEY is not set')
  let interrupted = false
  // Ctrl-C aborts the calls in flight; what was accepted so far is committed and stays.
  const onSignal = () => {
    interrupted = true
    void whatsgate.stop(Date.now())
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let results: BackfillResult[]
  try {
    results = await whatsgate.backfill({
      ...(options.since ? { since: options.since } : {}),
      ...(options.sessions.length > 0 ? { whatsappIds: options.sessions } : {}),
    })
  } catch (error) {
    throw new CommandError(interrupted ? 'interrupted' : explain(error, config))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await relay.stop()
  }
  if (results.length === 0) {
    throw new CommandError('sessions-get lists no session; name one with --session or WHATSGATE_WHATSAPP_IDS')
  }
  const width = Math.max(...results.map((r) => r.whatsappId.length))
  const total = { fetched: 0, accepted: 0, duplicates: 0, invalid: 0 }
  for (const r of results) {
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k]
    const counts = `fetched ${r.fetched}, new ${r.accepted}, duplicates ${r.duplicates}, invalid ${r.invalid}`
    const from = r.from === null ? 'the start' : r.from
    io.out(`${r.whatsappId.padEnd(width)}  from ${from}: ${counts}${r.error ? `; stopped: ${r.error}` : ''}`)
  }
  io.out(
    `total: fetched ${total.fetched}, new ${total.accepted}, duplicates ${total.duplicates}, invalid ${total.invalid}`,
  )
  const stopped = results.filter((r) => r.error !== undefined)
  if (stopped.length > 0) {
    throw new CommandError(`backfill of ${stopped.length} of ${results.length} session(s) stopped early`)
  }
}

/** The callback URL to give WhatsGate, with its token whole (the relay's log shows it cut short). */
async function callbackUrl(config: Config, _log: Logger, io: Output): Promise<void> {
  io.out(callbackUrlOf(config, config.port, true))
}

/** A consistent copy of the SQLite outbox, taken while the relay runs. */
async function backup(config: Config, _log: Logger, io: Output, options: Options): Promise<void> {
  if (config.databaseUrl)
    throw new CommandError('the outbox is PostgreSQL: back it up with pg_dump (docs/operations.md)')
  const { events } = runBackup(() => backupSqlite(config.sqlitePath, options.file as string))
  io.out(`backed up ${events} events to ${options.file}`)
}

/** Checks a backup and stages it: the relay's next start puts it in place of the outbox. */
async function restore(config: Config, _log: Logger, io: Output, options: Options): Promise<void> {
  if (config.databaseUrl)
    throw new CommandError('the outbox is PostgreSQL: restore it with pg_restore (docs/operations.md)')
  const { events } = runBackup(() => stageRestore(config.sqlitePath, options.file as string))
  io.out(
    `${options.file} holds ${events} events; the relay's next start puts it in place of ${config.sqlitePath} (keeping that one beside it)`,
  )
}

function runBackup<T>(work: () => T): T {
  try {
    return work()
  } catch (error) {
    if (error instanceof BackupError) throw new CommandError(error.message)
    throw error
  }
}

export const COMMANDS = { register, unregister, backfill, 'callback-url': callbackUrl, backup, restore }
