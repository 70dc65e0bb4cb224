#!/usr/bin/env node
// The operator's command line: point WhatsGate at the relay (or away from it) and fetch missed
// events, with the server's own configuration, client and accept path. Results go to stdout, one
// error line to stderr; exit 0 = done, 1 = failed, 2 = bad arguments.
import { pino } from 'pino'
import { PROGRAM, parseCommand } from './cli/arguments.ts'
import { COMMANDS, type Output } from './cli/commands.ts'
import { ConfigError } from './config/config.ts'
import { envJsonSchema, envSchema } from './config/env.ts'
import { loadConfig } from './config/load.ts'
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

The server's start-up backfill does not replay history: a session it has never seen starts at
the relay's first start, unless BACKFILL_SINCE says otherwise (or backfill --since, here).

Exit status: 0 done, 1 failed, 2 bad arguments.
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

/** Runs this process's command line and sets its exit status (bin/whatsgate-relay.js calls it). */
export async function runCli(): Promise<void> {
  // backfill may create DATA_DIR and the outbox: message bodies are for the relay's user only.
  process.umask(0o077)
  process.exitCode = await main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  })
}

if (import.meta.main) await runCli()
