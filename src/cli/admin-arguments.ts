// The words of the commands that ask a running relay (its admin API): which command, its filters,
// what it acts on. Checked before any request; what only the relay can judge (a status name, a
// date's form) is left to it, and its 400 names the option.
import { parseArgs } from 'node:util'

/** The conditions of a dead-letter filter besides --target (replay --dead, discard --dead). */
const DEAD_FILTERS = ['session', 'chat', 'from', 'to', 'status', 'error-class'] as const

export const ADMIN_COMMAND_OPTIONS = {
  status: [],
  targets: [],
  events: [
    'session',
    'action',
    'chat',
    'party',
    'from',
    'to',
    'nonconforming',
    'outcome',
    'target',
    'limit',
    'before',
    'after',
    'all',
  ],
  event: [],
  deliveries: ['status', 'target', 'session', 'from', 'to', 'limit', 'before', 'after', 'all'],
  delivery: [],
  replay: ['event', 'target', 'dead', ...DEAD_FILTERS, 'failed', 'dry-run', 'yes'],
  pause: [],
  resume: [],
  'admin-url': [],
  alerts: ['test'],
  discard: ['target', 'dead', ...DEAD_FILTERS, 'reason', 'yes'],
  audit: ['limit', 'all'],
} as const satisfies Record<string, readonly string[]>

export type AdminCommand = keyof typeof ADMIN_COMMAND_OPTIONS

export const isAdminCommand = (word: string): word is AdminCommand =>
  Object.hasOwn(ADMIN_COMMAND_OPTIONS, word)

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  session: { type: 'string' },
  action: { type: 'string' },
  chat: { type: 'string' },
  party: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  nonconforming: { type: 'boolean' },
  status: { type: 'string' },
  target: { type: 'string' },
  outcome: { type: 'string' },
  limit: { type: 'string' },
  before: { type: 'string' },
  after: { type: 'string' },
  all: { type: 'boolean' },
  event: { type: 'string' },
  dead: { type: 'boolean' },
  test: { type: 'boolean' },
  'error-class': { type: 'string' },
  failed: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** What `replay` sends again. */
export type ReplaySelector =
  | { ids: number[]; stdin: boolean }
  | { event: string; failed: boolean }
  | { target: string }
  | DeadSelection

/**
 * The dead letters a filter matches (the API's `dead`, its names): counted first; acted on only
 * with `yes`.
 */
export interface DeadSelection {
  dead: Record<string, string | number | null>
  dryRun: boolean
  yes: boolean
}

/** What `discard` marks, and why. */
export type DiscardSelection = ({ ids: number[]; stdin: boolean } | DeadSelection) & { reason: string }

export interface AdminOptions {
  /** --url; else RELAY_URL, else the relay's own PORT on this machine. */
  url?: string
  json: boolean
  /** The list's filters, named as the API's query names them. */
  filters: Record<string, string>
  /**
   * At most `limit` rows (the API's pages are followed), or every row with `all`: newest first,
   * from the newest, from before `before` (older rows), or from after `after` (newer rows).
   */
  page: { limit: number; before?: number; after?: number; all: boolean }
  /** event: its key; delivery: its id; pause and resume: the target's name. */
  subject?: string
  replay?: ReplaySelector
  /** alerts --test: a test message to every channel. */
  test?: boolean
  discard?: DiscardSelection
}

/** Rows shown without --limit (the API's own default page). */
export const DEFAULT_LIMIT = 100

class UsageError extends Error {
  override name = 'UsageError'
}

/** `now` turns `--from 2h` into an instant. */
export function parseAdminCommand(
  command: AdminCommand,
  args: string[],
  now = Date.now(),
): { help: true } | { help: false; options: AdminOptions } {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>
  >
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`)
  }
  const { values, positionals } = parsed
  const allowed: readonly string[] = ADMIN_COMMAND_OPTIONS[command]
  for (const name of Object.keys(values)) {
    if (!['help', 'url', 'json', ...allowed].includes(name)) {
      throw new UsageError(`${command}: --${name} is not an option of this command`)
    }
  }
  if (values.help) return { help: true }

  const filters: Record<string, string> = {}
  for (const name of ['session', 'action', 'chat', 'party', 'status', 'target', 'outcome'] as const) {
    const value = values[name]?.trim()
    if (value === '') throw new UsageError(`${command}: --${name} needs a value`)
    if (value !== undefined && command !== 'replay' && command !== 'discard') filters[name] = value
  }
  for (const name of ['from', 'to'] as const) {
    const value = values[name]?.trim()
    if (value === '') throw new UsageError(`${command}: --${name} needs a time`)
    if (value !== undefined) filters[name] = instant(value, now)
  }
  if (values.nonconforming) filters.conforming = 'false'

  if (values.all && values.limit !== undefined) {
    throw new UsageError(`${command}: --all and --limit do not go together`)
  }
  const limit = values.limit === undefined ? DEFAULT_LIMIT : count(command, 'limit', values.limit, 1)
  const after = values.after === undefined ? undefined : count(command, 'after', values.after, 0)
  const before = values.before === undefined ? undefined : count(command, 'before', values.before, 0)
  if (after !== undefined && before !== undefined) {
    throw new UsageError(`${command}: --before and --after do not go together`)
  }

  const options: AdminOptions = {
    json: values.json === true,
    filters,
    page: {
      limit,
      all: values.all === true,
      ...(after !== undefined ? { after } : {}),
      ...(before !== undefined ? { before } : {}),
    },
    ...(values.url !== undefined ? { url: values.url } : {}),
  }
  if (values.test) options.test = true
  const subject = subjectOf(command, positionals)
  if (subject !== undefined) options.subject = subject
  const dead = deadSelection(command, values, filters)
  if (command === 'replay') {
    options.replay =
      dead ??
      replaySelector(positionals, {
        event: values.event,
        target: values.target,
        dead: values.dead,
        failed: values.failed,
      })
  } else if (command === 'discard') {
    const reason = values.reason?.trim()
    if (!reason) throw new UsageError('discard needs --reason TEXT: why it is let go (kept with it)')
    if (dead !== null) options.discard = { ...dead, reason }
    else {
      if (positionals.length === 0 || values.target !== undefined) {
        throw new UsageError(
          'discard needs delivery ids (or - to read them from stdin), or --dead with a filter',
        )
      }
      const stdin = positionals.includes('-')
      const ids = positionals.filter((word) => word !== '-').map((word) => count('discard', '<id>', word, 1))
      options.discard = { ids, stdin, reason }
    }
  } else if (subject === undefined && positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument "${positionals[0]}"`)
  }
  return { help: false, options }
}

/** The one thing `event`, `delivery`, `pause` and `resume` act on. */
function subjectOf(command: AdminCommand, positionals: string[]): string | undefined {
  const what = { event: '<key>', delivery: '<id>', pause: '<target>', resume: '<target>' } as Record<
    string,
    string
  >
  const name = what[command]
  if (name === undefined) return undefined
  if (positionals.length !== 1 || positionals[0]?.trim() === '') {
    throw new UsageError(`${command} needs one ${name}${positionals.length > 1 ? ', not several' : ''}`)
  }
  const subject = positionals[0] as string
  if (command === 'delivery') count(command, '<id>', subject, 1)
  return subject
}

/**
 * `--dead` with a filter (more than --target alone, or --dry-run, --yes): the API's dead-letter
 * filter; null for anything else. `replay --target NAME --dead` alone keeps its paged replay by id.
 */
function deadSelection(
  command: AdminCommand,
  values: Record<string, string | boolean | undefined>,
  filters: Record<string, string>,
): DeadSelection | null {
  if (command !== 'replay' && command !== 'discard') return null
  const conditions: Record<string, string | number | null> = {}
  for (const name of ['session', 'chat'] as const) {
    const value = typeof values[name] === 'string' ? (values[name] as string).trim() : undefined
    if (value) conditions[name] = value
  }
  for (const name of ['from', 'to'] as const)
    if (filters[name] !== undefined) conditions[name] = filters[name]
  const status = typeof values.status === 'string' ? values.status.trim() : undefined
  if (status !== undefined) {
    if (!/^([1-5]\d\d|none)$/.test(status)) {
      throw new UsageError(`${command}: --status must be an HTTP status or none, got "${status}"`)
    }
    conditions.status = status === 'none' ? null : Number(status)
  }
  const errorClass = typeof values['error-class'] === 'string' ? values['error-class'].trim() : undefined
  if (errorClass !== undefined) conditions.errorClass = errorClass === 'unknown' ? null : errorClass
  const filtered = Object.keys(conditions).length > 0 || values['dry-run'] === true || values.yes === true
  if (!filtered && command === 'replay') return null
  if (!values.dead) {
    if (Object.keys(conditions).length > 0) throw new UsageError(`${command}: these filters go with --dead`)
    if (values['dry-run'] || (values.yes && command === 'replay')) {
      throw new UsageError(`${command}: --dry-run and --yes go with --dead and a filter`)
    }
    return null
  }
  const target = typeof values.target === 'string' ? values.target.trim() : undefined
  if (target) conditions.target = target
  if (Object.keys(conditions).length === 0) {
    throw new UsageError(
      `${command} --dead needs a filter: --target, --session, --chat, --from, --to, --status or --error-class`,
    )
  }
  return { dead: conditions, dryRun: values['dry-run'] === true, yes: values.yes === true }
}

function replaySelector(
  positionals: string[],
  { event, target, dead, failed }: { event?: string; target?: string; dead?: boolean; failed?: boolean },
): ReplaySelector {
  const given = [positionals.length > 0, event !== undefined, target !== undefined].filter(Boolean).length
  if (given !== 1) {
    throw new UsageError(
      `replay needs exactly one of: delivery ids (or - to read them from stdin), --event <key>, --target <name> --dead`,
    )
  }
  if (dead && target === undefined) throw new UsageError('replay: --dead goes with --target')
  if (failed && event === undefined) throw new UsageError('replay: --failed goes with --event')
  if (event !== undefined) return { event, failed: failed === true }
  if (target !== undefined) {
    if (!dead) throw new UsageError('replay: --target replays dead deliveries only: add --dead')
    return { target: target.trim() }
  }
  const stdin = positionals.includes('-')
  const ids = positionals.filter((word) => word !== '-').map((word) => count('replay', '<id>', word, 1))
  return { ids, stdin }
}

/** A whole number of at least `min`, for an option or an id. */
function count(command: string, name: string, text: string, min: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min) {
    const shown = name.startsWith('<') ? name : `--${name}`
    throw new UsageError(`${command}: ${shown} must be a whole number of at least ${min}, got "${text}"`)
  }
  return value
}

/**
 * A time as the API takes it (ISO 8601 with an offset). `30m`, `2h`, `7d` ago; a date or a date
 * and time without an offset read as UTC (as the relay's event dates are). Anything else goes to
 * the relay as typed, and its 400 names the option.
 */
export function instant(text: string, now: number): string {
  const ago = /^(\d+)\s*(s|m|h|d)$/.exec(text)
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd']
    return new Date(now - Number(ago[1]) * unit).toISOString()
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return `${text}T00:00:00Z`
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/.test(text)) {
    const [date, time] = text.split(/[ T]/) as [string, string]
    return `${date}T${time.length === 5 ? `${time}:00` : time}Z`
  }
  return text
}
