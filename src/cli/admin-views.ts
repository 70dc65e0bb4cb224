// The admin API's answers as text for people: tables of events and deliveries, one event with
// everything that became of it, the status overview. Pure: data in, lines out. Every string that
// came from an event, a target or WhatsGate goes through clean() (table() cleans its cells).
import { clean, cleanBlock, excerpt, iso, span, table } from './table.ts'

export interface Issue {
  path: string
  message: string
}

export interface EventRow {
  seq: number
  key: string
  whatsappId: string
  eventId: string
  action: string
  eventDate: string
  receivedAt: number
  issues: Issue[] | null
  /** The chat, where the relay reports it (newer relays). */
  chat?: string | null
  /** What became of it at each configured target (newer relays). */
  outcomes?: { target: string; outcome: string }[]
}

export interface Attempt {
  startedAt: number
  durationMs: number
  status: number | null
  errorClass: string | null
  error: string | null
  responseExcerpt: string | null
  replica: string
}

export interface DeliveryRow {
  id: number
  target: string
  status: string
  eventKey: string
  attempts: number
  nextAttemptAt: number
  lastStatus: number | null
  lastError: string | null
  receivedAt: number
  finishedAt: number | null
}

export interface DeliveryDetail extends DeliveryRow {
  history: Attempt[]
}

export interface EventDetail extends EventRow {
  body: string
  bodyEncoding: 'utf8' | 'base64'
  deliveries: DeliveryDetail[]
  /** Every configured target, and why one got no delivery (newer relays). */
  routing?: { target: string; outcome: string; reason: { message: string } | null }[]
}

export interface Status {
  version: string
  uptimeSeconds: number
  store: { kind: string; healthy: boolean }
  targets: {
    name: string
    type: string
    state: string
    /** The state with its count (newer relays). */
    stateText?: string
    pending: number
    oldestPendingAgeSeconds: number | null
  }[]
  registration: {
    state: string
    discovery: string
    unauthorized: boolean
    error?: string
    sessions: { whatsappId: string; outcome: string; attempts: number; error?: string }[]
  } | null
  eventsReceived: { lastMinute: number; lastHour: number }
  /** Absent from a relay older than replica heartbeats. */
  replicas?: { id: string; startedAt: number; lastBeatAt: number; alive: boolean; current: boolean }[]
}

/** Characters of a body shown; the rest is one --json away. */
const BODY_SHOWN = 4000

export function eventsTable(events: EventRow[]): string[] {
  const withChat = events.some((e) => typeof e.chat === 'string')
  const withOutcomes = events.some((e) => Array.isArray(e.outcomes))
  const headers = [
    'SEQ',
    'RECEIVED',
    'KEY',
    ...(withChat ? ['CHAT'] : []),
    ...(withOutcomes ? ['OUTCOMES'] : []),
    'ISSUES',
  ]
  const rows = events.map((e) => [
    String(e.seq),
    iso(e.receivedAt),
    e.key,
    ...(withChat ? [e.chat ?? '-'] : []),
    ...(withOutcomes ? [(e.outcomes ?? []).map((o) => `${o.target}:${o.outcome}`).join(' ') || '-'] : []),
    issuesText(e.issues),
  ])
  return table(headers, rows)
}

export function deliveriesTable(deliveries: DeliveryRow[]): string[] {
  const headers = ['ID', 'TARGET', 'STATUS', 'ATTEMPTS', 'RECEIVED', 'FINISHED', 'EVENT', 'LAST']
  const rows = deliveries.map((d) => [
    String(d.id),
    d.target,
    d.status,
    String(d.attempts),
    iso(d.receivedAt),
    d.status === 'pending' ? `next ${iso(d.nextAttemptAt)}` : iso(d.finishedAt),
    d.eventKey,
    lastOutcome(d),
  ])
  return table(headers, rows)
}

export function eventView(event: EventDetail): string[] {
  const lines = [
    ...table(
      ['event', clean(event.key)],
      [
        ['session', event.whatsappId],
        ['action', event.action],
        ['id', event.eventId],
        ...(typeof event.chat === 'string' ? [['chat', event.chat]] : []),
        ['date', event.eventDate],
        ['received', iso(event.receivedAt)],
        ['issues', issueMessages(event.issues)],
      ],
    ),
    ...bodyLines(event),
    '',
  ]
  const notRouted = (event.routing ?? []).filter((target) => target.reason !== null)
  if (event.deliveries.length === 0 && event.routing === undefined) {
    lines.push('no delivery: no configured target takes this event (its action or session)')
  }
  for (const target of notRouted) {
    lines.push(`not routed to ${clean(target.target)}: ${clean(target.reason?.message ?? '')}`)
  }
  if (notRouted.length > 0) lines.push('')
  for (const delivery of event.deliveries) lines.push(...deliveryView(delivery), '')
  return trimEnd(lines)
}

export function deliveryView(d: DeliveryDetail): string[] {
  const when =
    d.status === 'pending' ? `next attempt ${iso(d.nextAttemptAt)}` : `finished ${iso(d.finishedAt)}`
  const lines = [
    `delivery ${d.id} to ${clean(d.target)}: ${clean(d.status)}, ${plural(d.attempts, 'attempt')}, ${when}`,
    `  event ${clean(d.eventKey)}`,
  ]
  if (d.status !== 'delivered' && d.lastError) lines.push(`  last error: ${excerpt(d.lastError, 300)}`)
  if (d.history.length === 0) {
    lines.push('  no attempt yet')
    return lines
  }
  const rows = d.history.map((a, i) => [
    String(i + 1),
    iso(a.startedAt),
    `${a.durationMs} ms`,
    a.status !== null ? String(a.status) : (a.errorClass ?? 'error'),
    a.replica.slice(0, 8),
    // With a status, the error only restates it (`gone: HTTP 410`): the target's answer says more.
    a.status !== null && a.responseExcerpt ? excerpt(a.responseExcerpt, 100) : excerpt(a.error, 100),
  ])
  const attempts = table(['#', 'STARTED', 'DURATION', 'RESULT', 'REPLICA', 'ERROR OR ANSWER'], rows)
  return [...lines, ...attempts.map((line) => `  ${line}`)]
}

export function statusView(status: Status, shownUrl: string): string[] {
  const store = `${clean(status.store.kind)}, ${status.store.healthy ? 'healthy' : 'NOT ANSWERING'}`
  const lines = [
    `relay ${clean(status.version)} at ${shownUrl}, up ${span(status.uptimeSeconds)}`,
    `store ${store}`,
    `events received: ${status.eventsReceived.lastMinute} in the last minute, ${status.eventsReceived.lastHour} in the last hour`,
    '',
  ]
  if (status.targets.length === 0) lines.push('no target configured: events are stored and forwarded nowhere')
  else {
    const rows = status.targets.map((t) => [
      t.name,
      t.type,
      t.stateText ?? t.state,
      String(t.pending),
      span(t.oldestPendingAgeSeconds),
    ])
    lines.push(...table(['TARGET', 'TYPE', 'STATE', 'PENDING', 'OLDEST WAITING'], rows))
  }
  lines.push('', ...replicaLines(status.replicas ?? []))
  const registration = status.registration
  if (registration === null) {
    lines.push(
      'WhatsGate registration: not run by this relay (no WHATSGATE_API_KEY, or REGISTER_ON_START=false)',
    )
    return lines
  }
  const how =
    registration.discovery === 'explicit' ? 'configured sessions' : `discovery ${registration.discovery}`
  lines.push(`WhatsGate registration: ${clean(registration.state)} (${clean(how)})`)
  if (registration.unauthorized) lines.push("  WhatsGate rejects the relay's WHATSGATE_API_KEY")
  if (registration.error) lines.push(`  error: ${excerpt(registration.error, 300)}`)
  if (registration.sessions.length > 0) {
    const rows = registration.sessions.map((s) => [
      s.whatsappId,
      s.outcome,
      String(s.attempts),
      excerpt(s.error, 100),
    ])
    lines.push(...table(['SESSION', 'OUTCOME', 'ATTEMPTS', 'ERROR'], rows).map((line) => `  ${line}`))
  }
  return lines
}

/** The replicas by their heartbeats, ids shortened as the attempts show them. */
function replicaLines(replicas: NonNullable<Status['replicas']>): string[] {
  if (replicas.length === 0) return []
  const rows = replicas.map((r) => [
    `${clean(r.id.slice(0, 8))}${r.current ? ' (this one)' : ''}`,
    r.alive ? 'alive' : 'DEAD',
    iso(r.startedAt),
    iso(r.lastBeatAt),
  ])
  return [...table(['REPLICA', 'STATE', 'STARTED', 'LAST BEAT'], rows), '']
}

/** The last result of a delivery: its HTTP status, else the first line of its error. */
function lastOutcome(d: DeliveryRow): string {
  // With a status, the error only restates it (`gone: HTTP 410`).
  if (d.lastStatus !== null) return String(d.lastStatus)
  return d.lastError ? excerpt(d.lastError, 60) : '-'
}

function issuesText(issues: Issue[] | null): string {
  if (!issues || issues.length === 0) return ''
  return issues.map((issue) => issue.path || '(root)').join(', ')
}

function issueMessages(issues: Issue[] | null): string {
  if (!issues || issues.length === 0) return 'none'
  return issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ')
}

function bodyLines(event: EventDetail): string[] {
  if (event.bodyEncoding !== 'utf8') {
    return [
      `body      not UTF-8 text (${Math.floor((event.body.length * 3) / 4)} bytes; --json has it as base64)`,
    ]
  }
  const shown = event.body.length > BODY_SHOWN ? event.body.slice(0, BODY_SHOWN) : event.body
  const lines = [
    `body      ${plural(event.body.length, 'character')}`,
    ...cleanBlock(shown)
      .split('\n')
      .map((line) => `  ${line}`),
  ]
  if (shown.length < event.body.length) {
    lines.push(`  … ${event.body.length - shown.length} more characters (--json shows the whole body)`)
  }
  return lines
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function trimEnd(lines: string[]): string[] {
  while (lines.at(-1) === '') lines.pop()
  return lines
}

interface Outcomes {
  delivered: number
  failed: number
  dead: number
}

/** One target as GET /admin/targets describes it. */
export interface TargetInfo {
  name: string
  type: string
  state: string
  stateText: string
  pausedAt: number | null
  pending: number
  dead: number
  oldestPendingAgeSeconds: number | null
  consumers: number | null
  url: string
  events: string[]
  sessions: string[] | null
  filter: unknown
  retry: { maxAttempts: number; maxAgeMs: number | null; initialDelayMs: number; maxDelayMs: number } | null
  concurrency: { now: number | null; cap: number } | null
  ordering: string
  signed: boolean
  lastHour: Outcomes
  lastDay: Outcomes
}

const outcomes = (o: Outcomes) => `${o.delivered} delivered, ${o.failed} failed, ${o.dead} dead`

/** Each target: its state and backlog in a table, then its configuration and traffic. */
export function targetsView(targets: readonly TargetInfo[]): string[] {
  if (targets.length === 0) return ['no target configured: events are stored and forwarded nowhere']
  const lines = table(
    ['TARGET', 'TYPE', 'STATE', 'PENDING', 'OLDEST WAITING', 'LAST HOUR'],
    targets.map((t) => [
      t.name,
      t.type,
      t.stateText,
      String(t.pending),
      span(t.oldestPendingAgeSeconds),
      outcomes(t.lastHour),
    ]),
  )
  for (const t of targets) {
    lines.push('', `${clean(t.name)} (${clean(t.type)}): ${clean(t.stateText)}`)
    const facts: [string, string][] = [
      ['url', t.url],
      ['events', t.events.join(', ')],
      ['sessions', t.sessions === null ? 'all' : t.sessions.join(', ')],
      ['filter', t.filter === null ? 'none' : JSON.stringify(t.filter)],
    ]
    if (t.retry) {
      const age = t.retry.maxAgeMs === null ? '' : `, for at most ${span(t.retry.maxAgeMs / 1000)}`
      const delays = `${span(t.retry.initialDelayMs / 1000)} to ${span(t.retry.maxDelayMs / 1000)} apart`
      facts.push(['retry', `${t.retry.maxAttempts} attempts, ${delays}${age}`])
    }
    if (t.concurrency) {
      facts.push(['concurrency', `${t.concurrency.now ?? '-'} now, at most ${t.concurrency.cap}`])
    }
    if (t.consumers !== null) facts.push(['consumers', `${t.consumers} connected to this relay`])
    facts.push(
      ['ordering', t.ordering === 'chat' ? 'per chat' : 'none'],
      ['signed', t.signed ? 'yes' : 'no'],
      ['paused since', iso(t.pausedAt)],
      ['dead letters', String(t.dead)],
      ['last hour', outcomes(t.lastHour)],
      ['last day', outcomes(t.lastDay)],
    )
    lines.push(...facts.map(([name, value]) => `  ${name.padEnd(13)}${excerpt(value, 300)}`))
  }
  return lines
}
