// The dead-letter statements of both stores (sqlite-dead-letters.ts, postgres-dead-letters.ts),
// built for the filters given: a statement holds only the conditions asked for. Values are bound,
// never written into the text.
//
// Dead letters are a backlog, few beside the events; where a filter is on their events, the
// statement reads either every dead letter and looks up its event (a session's, a wide time
// window's), or the events the filter picks and their deliveries (a chat's, a narrow window's).
// PostgreSQL's planner weighs that with its statistics; SQLite has none, so its statements say
// which (CROSS JOIN keeps the order written, `+` keeps a column's index out of the choice), and its
// store picks by the window's size (sqlite-dead-letters.ts).
import { chatOfFilter } from '../events/parse.ts'
import { chatParty } from '../events/parties.ts'
import { toDeliveryRow } from './rows.ts'
import type {
  AdminRole,
  AttemptErrorClass,
  AuditAction,
  AuditEntry,
  AuditRow,
  AuditVia,
  DeadLetterFilter,
  DeadLetterGroup,
  DeadLetterQuery,
  DeadLetterRow,
} from './types.ts'

export interface Built {
  text: string
  values: unknown[]
}

/** How a store writes its statements: its placeholders, and whether it fixes the join order. */
export interface Dialect {
  placeholder: (index: number) => string
  /** SQLite: the order is written out, led by `lead`. */
  ordered: boolean
}

/** Which side a statement reads first, when its filter is on the events (see above). */
export type Lead = 'events' | 'deliveries'

/** How many dead letters one transaction of a bulk replay or discard changes. */
export const DEAD_LETTER_CHUNK = 1000

const ROW_COLUMNS = `
  d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, e.chat, d.attempts, d.next_attempt_at,
  d.last_status, d.last_error, d.last_error_class, d.replays, d.discarded_at, d.discard_reason,
  d.discarded_by, e.received_at, d.finished_at`

/** A WHERE clause and its values, in the order the placeholders number them. */
function where(
  filter: DeadLetterFilter & { discarded?: boolean; beforeId?: number; afterId?: number },
  dialect: Dialect,
  lead: Lead,
) {
  const values: unknown[] = []
  const bind = (value: unknown) => {
    values.push(value)
    return dialect.placeholder(values.length)
  }
  // Led by the dead letters, SQLite must not pick an index of the events instead.
  const e = dialect.ordered && lead === 'deliveries' ? '+e' : 'e'
  const conditions = ["d.status = 'dead'"]
  if (filter.target !== undefined) conditions.push(`d.target = ${bind(filter.target)}`)
  if (filter.whatsappId !== undefined) conditions.push(`${e}.whatsapp_id = ${bind(filter.whatsappId)}`)
  if (filter.chat !== undefined) {
    const party = partyLead(filter, dialect, lead)
    if (party !== null) conditions.push(`p.party = ${bind(party)}`)
    conditions.push(`${e}.chat = ${bind(chatOfFilter(filter.chat))}`)
  }
  if (filter.receivedFrom !== undefined) conditions.push(`${e}.received_at >= ${bind(filter.receivedFrom)}`)
  if (filter.receivedBefore !== undefined)
    conditions.push(`${e}.received_at < ${bind(filter.receivedBefore)}`)
  if (filter.lastStatus === null) conditions.push('d.last_status IS NULL')
  else if (filter.lastStatus !== undefined) conditions.push(`d.last_status = ${bind(filter.lastStatus)}`)
  if (filter.errorClass === null) conditions.push('d.last_error_class IS NULL')
  else if (filter.errorClass !== undefined) conditions.push(`d.last_error_class = ${bind(filter.errorClass)}`)
  if (filter.upTo !== undefined) conditions.push(`d.id <= ${bind(filter.upTo)}`)
  if (filter.beforeId !== undefined) conditions.push(`d.id < ${bind(filter.beforeId)}`)
  if (filter.afterId !== undefined) conditions.push(`d.id > ${bind(filter.afterId)}`)
  if (filter.discarded !== undefined) {
    conditions.push(filter.discarded ? 'd.discarded_at IS NOT NULL' : 'd.discarded_at IS NULL')
  }
  return { text: conditions.join(' AND '), values, bind }
}

/** Whether a condition of the filter is on the events. */
export function onEvents(filter: DeadLetterFilter): boolean {
  return (
    filter.whatsappId !== undefined ||
    filter.chat !== undefined ||
    filter.receivedFrom !== undefined ||
    filter.receivedBefore !== undefined
  )
}

/**
 * On SQLite, the party whose rows lead to a chat's events (chatParty: it has no chat index), where
 * the events are read first; null without a chat, for an odd one, or where the dead letters lead.
 * PostgreSQL keeps its chat index (postgres-schema.ts).
 */
function partyLead(filter: DeadLetterFilter, dialect: Dialect, lead: Lead): string | null {
  if (filter.chat === undefined || !dialect.ordered || lead === 'deliveries') return null
  return chatParty(chatOfFilter(filter.chat))
}

/** Deliveries alone, unless a condition is on their event (or `withEvents`: a list shows them). */
function from(filter: DeadLetterFilter, dialect: Dialect, lead: Lead, withEvents = false): string {
  if (!withEvents && !onEvents(filter)) return 'deliveries d'
  // On SQLite a chat's events are read from its party rows (event_parties_party), in seq order.
  const events =
    partyLead(filter, dialect, lead) === null
      ? 'events e'
      : 'event_parties p INDEXED BY event_parties_party CROSS JOIN events e ON e.seq = p.seq'
  if (!dialect.ordered) {
    // A chat's events are few: each one's dead deliveries looked up (deliveries_dead_event) beat
    // reading every dead letter, which PostgreSQL's planner prefers when it hashes the two sides
    // (118 against 10 ms on the admin bench's million events). OFFSET 0 keeps the lookup per event.
    return filter.chat !== undefined
      ? `${events} CROSS JOIN LATERAL (
           SELECT * FROM deliveries WHERE event_seq = e.seq AND status = 'dead' OFFSET 0) d`
      : 'deliveries d JOIN events e ON e.seq = d.event_seq'
  }
  return lead === 'events'
    ? `${events} CROSS JOIN deliveries d ON d.event_seq = e.seq`
    : 'deliveries d CROSS JOIN events e ON e.seq = d.event_seq'
}

export function groupsStatement(filter: DeadLetterFilter, dialect: Dialect, lead: Lead): Built {
  const w = where(filter, dialect, lead)
  return {
    text: `
      SELECT d.target, d.last_status, d.last_error_class,
             count(*) - count(d.discarded_at) AS count, count(d.discarded_at) AS discarded,
             max(d.finished_at) AS newest_at, min(d.finished_at) AS oldest_at
      FROM ${from(filter, dialect, lead)} WHERE ${w.text}
      GROUP BY d.target, d.last_status, d.last_error_class
      ORDER BY newest_at DESC, d.target, d.last_status, d.last_error_class`,
    values: w.values,
  }
}

export function listStatement(query: DeadLetterQuery, dialect: Dialect, lead: Lead): Built {
  const w = where({ ...query, discarded: query.discarded === true }, dialect, lead)
  return {
    text: `
      SELECT ${ROW_COLUMNS}
      FROM ${from(query, dialect, lead, true)}
      WHERE ${w.text} ORDER BY d.id DESC LIMIT ${w.bind(query.limit)}`,
    values: w.values,
  }
}

export function countStatement(filter: DeadLetterFilter, dialect: Dialect, lead: Lead): Built {
  const w = where({ ...filter, discarded: false }, dialect, lead)
  return {
    text: `
      SELECT d.target, count(*) AS count, max(d.id) AS up_to FROM ${from(filter, dialect, lead)}
      WHERE ${w.text} GROUP BY d.target`,
    values: w.values,
  }
}

/**
 * The next chunk of a bulk change: the ids (not discarded) after `afterId`, up to `upTo`, in id
 * order. Each id is visited once, so a dead letter replayed, dead again and still matching is
 * not sent a second time by the same replay.
 */
export function chunkStatement(
  filter: DeadLetterFilter,
  afterId: number,
  upTo: number,
  dialect: Dialect,
  lead: Lead,
): Built {
  const w = where({ ...filter, upTo, afterId, discarded: false }, dialect, lead)
  return {
    text: `SELECT d.id FROM ${from(filter, dialect, lead)} WHERE ${w.text} ORDER BY d.id LIMIT ${w.bind(DEAD_LETTER_CHUNK)}`,
    values: w.values,
  }
}

type Row = Record<string, unknown>

export function toDeadLetterRow(row: Row): DeadLetterRow {
  return {
    ...toDeliveryRow(row),
    chat: row.chat as string | null,
    errorClass: row.last_error_class as AttemptErrorClass | null,
    replays: row.replays as number,
    discardedAt: row.discarded_at as number | null,
    discardReason: row.discard_reason as string | null,
    discardedBy: row.discarded_by as string | null,
  }
}

/** A count's rows, one per target, as countDeadLetters answers. */
export function toDeadLetterCount(rows: Row[]): { count: number; upTo: number | null; targets: string[] } {
  const upTo = rows.reduce<number | null>((top, row) => Math.max(top ?? 0, Number(row.up_to)), null)
  return {
    count: rows.reduce((sum, row) => sum + Number(row.count), 0),
    upTo,
    targets: rows.map((row) => row.target as string),
  }
}

export function toDeadLetterGroup(row: Row): DeadLetterGroup {
  return {
    target: row.target as string,
    lastStatus: row.last_status as number | null,
    errorClass: row.last_error_class as AttemptErrorClass | null,
    count: Number(row.count),
    discarded: Number(row.discarded),
    newestAt: row.newest_at as number,
    oldestAt: row.oldest_at as number,
  }
}

export const AUDIT_COLUMNS = 'at, action, via, role, session, subject, count, reason'

/** An audit entry's values, in AUDIT_COLUMNS's order. */
export function auditValues(entry: AuditEntry): (string | number | null)[] {
  return [
    entry.at,
    entry.action,
    entry.via,
    entry.role,
    entry.session,
    entry.subject,
    entry.count,
    entry.reason,
  ]
}

export function toAuditRow(row: Row): AuditRow {
  return {
    id: row.id as number,
    at: row.at as number,
    action: row.action as AuditAction,
    via: row.via as AuditVia,
    role: row.role as AdminRole,
    session: row.session as string | null,
    subject: row.subject as string,
    count: row.count as number | null,
    reason: row.reason as string | null,
  }
}
