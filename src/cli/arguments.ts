// The command line's words: which command, which options, checked before anything is tried.
import { parseArgs } from 'node:util'
import { isWallClock } from '../events/index.ts'
import { type AdminCommand, type AdminOptions, isAdminCommand, parseAdminCommand } from './admin-arguments.ts'

export const PROGRAM = 'whatsgate-relay'

/** Exit 2: the command line is wrong, nothing was tried. */
class UsageError extends Error {
  override name = 'UsageError'
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
  'callback-url': [],
  secret: [],
  backup: [],
  restore: [],
} as const satisfies Record<string, readonly (keyof typeof OPTIONS)[]>

export type Command = keyof typeof COMMAND_OPTIONS

export interface Options {
  sessions: string[]
  since?: string
  force: boolean
  /** backup and restore: the backup's file. */
  file?: string
}

/** The commands that take a file as their one argument. */
const FILE_COMMANDS = new Set(['backup', 'restore'])

/** What to do: a command with the server's configuration, one that asks a running relay, or neither. */
export type Invocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'server'; command: Command; options: Options }
  | { kind: 'admin'; command: AdminCommand; options: AdminOptions }

const COMMAND_LIST =
  'register, unregister, backfill, callback-url, secret, backup, restore, status, targets, events, event, deliveries, delivery, replay, discard, pause, resume, audit, admin-url, help'

export function parseCommand(argv: string[]): Invocation {
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError(`a command is needed (${COMMAND_LIST})`)
  if (first === 'help' || first === '--help' || first === '-h') return { kind: 'help' }
  if (first === '--version') return { kind: 'version' }
  if (isAdminCommand(first)) {
    const parsed = parseAdminCommand(first, rest)
    return parsed.help ? { kind: 'help' } : { kind: 'admin', command: first, options: parsed.options }
  }
  if (!Object.hasOwn(COMMAND_OPTIONS, first)) {
    throw new UsageError(`unknown command "${first}" (${COMMAND_LIST}; see ${PROGRAM} --help)`)
  }
  const command = first as Command
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values']
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: rest,
      options: OPTIONS,
      strict: true,
      allowPositionals: FILE_COMMANDS.has(command),
    }))
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`)
  }
  const allowed: readonly string[] = COMMAND_OPTIONS[command]
  for (const name of Object.keys(values)) {
    if (name !== 'help' && !allowed.includes(name)) {
      throw new UsageError(`${command}: --${name} is not an option of this command`)
    }
  }
  if (values.help) return { kind: 'help' }
  const sessions = (values.session ?? []).map((s) => s.trim())
  if (sessions.some((s) => s === '')) throw new UsageError(`${command}: --session needs a session id`)
  const since = values.since
  if (since !== undefined && !isWallClock(since)) {
    throw new UsageError(`${command}: --since must be a date "YYYY-MM-DD HH:MM:SS", got "${since}"`)
  }
  let file: string | undefined
  if (FILE_COMMANDS.has(command)) {
    if (positionals.length !== 1 || positionals[0] === '') {
      throw new UsageError(`${command}: give one file, e.g. ${PROGRAM} ${command} relay-backup.sqlite`)
    }
    file = positionals[0]
  }
  return {
    kind: 'server',
    command,
    options: {
      sessions: [...new Set(sessions)],
      force: values.force === true,
      ...(since ? { since } : {}),
      ...(file ? { file } : {}),
    },
  }
}
