#!/usr/bin/env node
// The operator's command line. register, unregister and backfill point WhatsGate at the relay (or
// away from it) and fetch missed events, with the server's own configuration, client and accept
// path; status, events, deliveries, replay, pause and resume ask a running relay over its admin API
// and load nothing of the server's. Results go to stdout, one error line to stderr; exit 0 = done,
// 1 = failed, 2 = bad arguments.
import { text as readText } from 'node:stream/consumers'
import { runAdmin } from './cli/admin-commands.ts'
import { PROGRAM, parseCommand } from './cli/arguments.ts'
import type { Output } from './cli/output.ts'
import { envDefault, envSchema } from './config/env.ts'
import { loadEnvFile } from './config/env-file.ts'
import { VERSION } from './version.ts'

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
  const env = ENV_SHOWN.map((name) => {
    const text =
      name === 'LOG_LEVEL'
        ? 'Relay logs (JSON) on stderr; silent in the CLI unless set'
        : (envSchema.shape[name].description ?? '')
    const fallback = name === 'LOG_LEVEL' ? undefined : envDefault(name)
    const suffix = typeof fallback === 'string' && fallback !== '' ? ` (default ${fallback})` : ''
    return `  ${name.padEnd(24)}${text}${suffix}`
  })
  return `Usage: ${PROGRAM} <command> [options]

Commands with the server's configuration (WhatsGate's API, the outbox):
  register      Point WhatsGate's webhook (set-hook) at PUBLIC_URL/webhook/<ingest token>
  unregister    Clear the webhook (set-hook with an empty callback)
  backfill      Fetch events with events-get into the outbox; targets receive the new ones
  callback-url  Print the callback URL to give WhatsGate, its token whole
  secret        Print the secret that signs http targets without their own (FORWARD_SECRET,
                else the one kept in DATA_DIR): what a receiver verifies with
  backup FILE   Copy the SQLite outbox into FILE, consistent, while the relay runs
  restore FILE  Check FILE and stage it: the relay's next start puts it in place of the outbox
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

The server's start-up backfill does not replay history: a session it has never seen starts at
the relay's first start, unless BACKFILL_SINCE says otherwise (or backfill --since, here).

Commands that ask a running relay (its admin API; nothing else of the server is needed):
  status                 Store, targets (state, pending, oldest wait), WhatsGate registration
  events                 Events received, newest first, each target's outcome
                         [--session ID] [--action NAME] [--party PHONE|JID] [--chat JID|PHONE]
                         [--nonconforming] [--from TIME] [--to TIME]
                         [--outcome delivered|pending|retrying|paused|dead] [--target NAME]
                         --party: the events a number (any written form: 79991112233,
                         "+7 999 111-22-33", 79991112233@c.us) or a group jid is the chat,
                         sender, recipient or group participant of; --chat: the chat only
  event <key>            One event (<whatsapp_id>:<action>:<id>): its body, each delivery and
                         each attempt (status or error, duration, replica, answer), and why a
                         target got none
  deliveries             Deliveries, newest first
                         [--status pending|delivered|dead] [--target NAME] [--session ID]
                         [--from TIME] [--to TIME]
  delivery <id>          One delivery with every attempt
  replay <id>... | -     Send these deliveries again (-: ids read from stdin)
  replay --event <key>   Send one event again to every target it went to
  replay --target NAME --dead
                         Send every dead delivery of a target again (500 ids a request,
                         a progress bar on a terminal; discarded ones left out)
  replay --event <key> --failed
                         Send it again to the targets it died at only
  replay --dead FILTER [--dry-run | --yes]
                         Count the dead deliveries a filter matches (and say which targets
                         still fail or are paused); with --yes, replay exactly those.
                         FILTER: [--target NAME] [--session ID] [--chat JID|PHONE]
                         [--from TIME] [--to TIME] [--status CODE|none]
                         [--error-class http|timeout|connection|media|unknown]
  discard <id>... | - --reason TEXT
  discard --dead FILTER --reason TEXT [--yes]
                         Let dead deliveries go: kept, marked with the reason, counted,
                         left out of bulk replays (a replay by id still sends one)
  pause <target>         Hold a target's deliveries (kept in the store, for every replica)
  resume <target>        Send what waited, oldest first
  audit                  Who replayed, discarded, paused or resumed what, and how, newest first
  targets                Each target: its state (dead letters: N, no consumer, ...), backlog,
                         configuration (no credentials) and last hour and day
  admin-url              A one-time link that signs a browser in to the dashboard (10 min)
  alerts [--test]        Open and recent alerts, and each channel (--test: a test message to each)

Options of these:
  --url URL              The relay; default RELAY_URL, else http://127.0.0.1:$PORT (3000)
  --json                 The API's JSON document instead of a table
  --limit N              Rows shown at most (default 100; pages of 1,000 are followed)
  --all                  Every row that matches
  --before N             Older rows: those before this cursor ("older ...: --before" names it)
  --after N              Newer rows: those after this cursor ("newer ...: --after" names it)
  TIME                   ISO 8601 (2026-05-01T10:00:00+02:00), a UTC date or date and time
                         (2026-05-01, "2026-05-01 10:00"), or an age: 30m, 2h, 7d

Environment of these:
  RELAY_URL               The relay's base URL (default http://127.0.0.1:$PORT)
  ADMIN_TOKEN             The relay's admin token (sent as a bearer token, never printed);
                          default the one the relay keeps in DATA_DIR on this machine

Did message X reach my bot?
  ${PROGRAM} events --party 79991112233 --from 2h    find its key
  ${PROGRAM} event '<key>'                           each delivery, each attempt, each error
  ${PROGRAM} replay --event '<key>'                  send it again

Exit status: 0 done, 1 failed (the relay refused, could not be reached, or said no), 2 bad
arguments.
`
}

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
  if (parsed.kind === 'help') {
    io.out(usage().trimEnd())
    return 0
  }
  if (parsed.kind === 'version') {
    io.out(VERSION)
    return 0
  }
  if (parsed.kind === 'admin') return runAdmin(parsed.command, parsed.options, env, io, PROGRAM)
  const { command, options } = parsed
  if (command === 'secret') return printSigningSecret(env, io)
  // Loaded only here: the admin commands need nothing of the server (and start twice as fast).
  const [{ pino }, { COMMANDS }, { ConfigError }, { loadConfig }] = await Promise.all([
    import('pino'),
    import('./cli/commands.ts'),
    import('./config/config.ts'),
    import('./config/load.ts'),
  ])
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

/**
 * The secret that signs http targets without their own: FORWARD_SECRET, or the one kept in
 * DATA_DIR (made now if the relay has not made it yet). Read without the rest of the
 * configuration, so that replicas that refuse to start without FORWARD_SECRET can be given one.
 */
async function printSigningSecret(env: Record<string, string | undefined>, io: Output): Promise<number> {
  const { SIGNING_SECRET, resolveKeptSecret } = await import('./config/kept-secrets.ts')
  const configured = env.FORWARD_SECRET?.trim() || undefined
  const problem = configured === undefined ? null : SIGNING_SECRET.problem(configured)
  if (problem) {
    io.err(`${PROGRAM} secret: FORWARD_SECRET: ${problem}`)
    return 1
  }
  try {
    const dataDir = env.DATA_DIR?.trim() || (envDefault('DATA_DIR') as string)
    io.out(resolveKeptSecret(dataDir, SIGNING_SECRET, configured).value)
    return 0
  } catch (error) {
    io.err(`${PROGRAM} secret: ${oneLine((error as Error).message)}`)
    return 1
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}

/** Runs this process's command line and sets its exit status (bin/whatsgate-relay.js calls it). */
export async function runCli(): Promise<void> {
  // backfill may create DATA_DIR and the outbox: message bodies are for the relay's user only.
  process.umask(0o077)
  try {
    loadEnvFile(process.env)
  } catch (error) {
    process.stderr.write(`${PROGRAM}: ${(error as Error).message}\n`)
    process.exitCode = 1
    return
  }
  process.exitCode = await main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    ...(process.stderr.isTTY
      ? { progress: (text) => process.stderr.write(text === null ? '\n' : `\r${text}\x1b[K`) }
      : {}),
    input: () => readText(process.stdin),
    onInterrupt(stop) {
      process.once('SIGINT', stop)
      return () => process.off('SIGINT', stop)
    },
  })
}

if (import.meta.main) await runCli()
