#!/usr/bin/env node
// The operator's command line: point WhatsGate at the relay (or away from it) and fetch missed
// events, with the server's own configuration, client and accept path. Results go to stdout, one
// error line to stderr; exit 0 = done, 1 = failed, 2 = bad arguments.
import { parseArgs } from 'node:util'
import { type Logger, pino } from 'pino'
import { type Config, ConfigError, envJsonSchema, envSchema } from './config/index.ts'
import { loadConfig } from './config/load.ts'
import { createRelay } from './relay.ts'
import { VERSION } from './version.ts'
import {
  createWhatsGateClient,
  isUnauthorized,
  type WhatsGateClient,
  WhatsGateUnavailableError,
} from './whatsgate/api-client.ts'
import type { BackfillResult } from './whatsgate/backfill.ts'
import { callbackUrl } from './whatsgate/integration.ts'

const PROGRAM = 'whatsgate-relay'

/** Exit 2: the command line is wrong, nothing was tried. */
class UsageError extends Error {
  override name = 'UsageError'
}

/** Exit 1: the command ran and failed; the message says what to fix. */
class CommandError extends Error {
  override name = 'CommandError'
}

const ENV_SHOWN = [
  'WHATSGATE_API_KEY',
  'WHATSGATE_API_URL',
  'WHATSGATE_WHATSAPP_IDS',
  'PUBLIC_URL',
  'INGEST_TOKEN',
  'DATA_DIR',
  'DATABASE_URL',
  'FORWARD_URL',
  'TARGETS',
  'TARGETS_FILE',
  'LOG_LEVEL',
] as const

function usage(): string {
  const defaults = (envJsonSchema as { properties?: Record<string, { default?: unknown }> }).properties ?? {}
  const env = ENV_SHOWN.map((name) => {
    const text =
      name === 'LOG_LEVEL'
        ? 'Relay logs (JSON) on stderr; silent in the CLI unless set'
        : (envSchema.shape[name].description ?? '')
    const fallback = name === 'LOG_LEVEL' ? undefined : defaults[name]?.default
    const suffix = typeof fallback === 'string' && fallback !== '' ? ` (default ${fallback})` : ''
    return `  ${name.padEnd(24)}${text}${suffix}`
  })
  return `Usage: ${PROGRAM} <command> [options]

Commands:
  register      Point WhatsGate's webhook (set-hook) at PUBLIC_URL/webhook/<ingest token>
  unregister    Clear the webhook (set-hook with an empty callback)
  backfill      Fetch events with events-get into the outbox; targets receive the new ones
  help          Show this text

Options:
  --session ID  Act on this session (repeatable); default WHATSGATE_WHATSAPP_IDS, else every
                session sessions-get lists
  --since DATE  backfill: from "YYYY-MM-DD HH:MM:SS"; default a minute before the newest
                stored event of each session, or all WhatsGate keeps
  --force       unregister: also clear discovered sessions whose webhook points elsewhere
  -h, --help    Show this text
  --version     Print the version

Environment (the server's own; .env.example lists every variable):
${env.join('\n')}

Exit status: 0 done, 1 failed, 2 bad arguments.
`
}

const OPTIONS = {
  session: { type: 'string', multiple: true },
  since: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** The options each command takes, besides --help. */
const COMMAND_OPTIONS = {
  register: ['session'],
  unregister: ['session', 'force'],
  backfill: ['session', 'since'],
} as const satisfies Record<string, readonly (keyof typeof OPTIONS)[]>

type Command = keyof typeof COMMAND_OPTIONS

interface Options {
  sessions: string[]
  since?: string
  force: boolean
}

interface Output {
  out(line: string): void
  err(line: string): void
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

function isWallClock(text: string): boolean {
  const m = WALL_CLOCK.exec(text)
  if (!m) return false
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60
}

function parseCommand(argv: string[]): { command: Command | 'help' | 'version'; options: Options } {
  const [first, ...rest] = argv
  const none: Options = { sessions: [], force: false }
  if (first === undefined) throw new UsageError(`a command is needed (register, unregister, backfill, help)`)
  if (first === 'help' || first === '--help' || first === '-h') return { command: 'help', options: none }
  if (first === '--version') return { command: 'version', options: none }
  if (!Object.hasOwn(COMMAND_OPTIONS, first)) {
    throw new UsageError(
      `unknown command "${first}" (register, unregister, backfill, help; see ${PROGRAM} --help)`,
    )
  }
  const command = first as Command
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values']
  try {
    ;({ values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }))
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`)
  }
  const allowed: readonly string[] = COMMAND_OPTIONS[command]
  for (const name of Object.keys(values)) {
    if (name !== 'help' && !allowed.includes(name)) {
      throw new UsageError(`${command}: --${name} is not an option of this command`)
    }
  }
  if (values.help) return { command: 'help', options: none }
  const sessions = (values.session ?? []).map((s) => s.trim())
  if (sessions.some((s) => s === '')) throw new UsageError(`${command}: --session needs a session id`)
  const since = values.since
  if (since !== undefined && !isWallClock(since)) {
    throw new UsageError(`${command}: --since must be a date "YYYY-MM-DD HH:MM:SS", got "${since}"`)
  }
  return {
    command,
    options: { sessions: [...new Set(sessions)], force: values.force === true, ...(since ? { since } : {}) },
  }
}

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
  const callback = callbackUrl(config) as string
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
    void whatsgate.stop()
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

const COMMANDS = { register, unregister, backfill }

/** Runs one command line; returns the exit status. */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
): Promise<number> {
  let parsed: ReturnType<typeof parseCommand>
  try {
    parsed = parseCommand(argv)
  } catch (error) {
    io.err(`${PROGRAM}: ${oneLine((error as Error).message)}`)
    return 2
  }
  const { command, options } = parsed
  if (command === 'help') {
    io.out(usage().trimEnd())
    return 0
  }
  if (command === 'version') {
    io.out(VERSION)
    return 0
  }
  try {
    const { config } = await loadConfig(env, (message) => io.err(`${PROGRAM}: warning: ${oneLine(message)}`))
    const log = pino(
      { level: env.LOG_LEVEL ? config.logLevel : 'silent' },
      pino.destination({ dest: 2, sync: true }),
    )
    await COMMANDS[command](config, log, io, options)
    return 0
  } catch (error) {
    const message =
      error instanceof ConfigError
        ? `invalid configuration: ${error.message}`
        : error instanceof Error
          ? error.message
          : String(error)
    io.err(`${PROGRAM} ${command}: ${oneLine(message)}`)
    return 1
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  })
}
