// The dead-letter statements of both stores (sqlite-dead-letters.ts, postgres-dead-letters.ts),
// built for the filters given: a statement holds only the conditions asked for, so each store's
// planner can lead with the index that fits (deliveries_dead_cause for the grouping, deliveries_dead
// in id order for a page). Values are bound, never written into the text; `placeholder` is each
// store's way to name the next one (`?`, `$n`).
import { chatOfFilter } from '../events/parse.ts'
import { toDeliveryRow } from './rows.ts'
import type {
  AdminRole,
  AttemptErrorClass,
  AuditAction,
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

export type Placeholder = (index: number) => string

/** How many dead letters one transaction of a bulk replay or discard changes. */
export const DEAD_LETTER_CHUNK = 1000

const ROW_COLUMNS = `
  d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, e.chat, d.attempts, d.next_attempt_at,
  d.last_status, d.last_error, d.last_error_class, d.replays, d.discarded_at, d.discard_reason,
  d.discarded_by, e.received_at, d.finished_at`

/** A WHERE clause and its values, in the order the placeholders number them. */
function where(
  filter: DeadLetterFilter & { discarded?: boolean; beforeId?: number; afterId?: number },
  placeholder: Placeholder,
) {
  const values: unknown[] = []
  const bind = (value: unknown) => {
    values.push(value)
    return placeholder(values.length)
  }
  const conditions = ["d.status = 'dead'"]
  if (filter.target !== undefined) conditions.push(`d.target = ${bind(filter.target)}`)
  if (filter.whatsappId !== undefined) conditions.push(`e.whatsapp_id = ${bind(filter.whatsappId)}`)
  if (filter.chat !== undefined) conditions.push(`e.chat = ${bind(chatOfFilter(filter.chat))}`)
  if (filter.receivedFrom !== undefined) conditions.push(`e.received_at >= ${bind(filter.receivedFrom)}`)
  if (filter.receivedBefore !== undefined) conditions.push(`e.received_at < ${bind(filter.receivedBefore)}`)
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

/** Deliveries alone, unless a condition is on their event. */
function from(filter: DeadLetterFilter): string {
  const onEvent =
    filter.whatsappId !== undefined ||
    filter.chat !== undefined ||
    filter.receivedFrom !== undefined ||
    filter.receivedBefore !== undefined
  return onEvent ? 'deliveries d JOIN events e ON e.seq = d.event_seq' : 'deliveries d'
}

export function groupsStatement(filter: DeadLetterFilter, placeholder: Placeholder): Built {
  const w = where(filter, placeholder)
  return {
    text: `
      SELECT d.target, d.last_status, d.last_error_class,
             count(*) - count(d.discarded_at) AS count, count(d.discarded_at) AS discarded,
             max(d.finished_at) AS newest_at, min(d.finished_at) AS oldest_at
      FROM ${from(filter)} WHERE ${w.text}
      GROUP BY d.target, d.last_status, d.last_error_class
      ORDER BY newest_at DESC, d.target, d.last_status, d.last_error_class`,
    values: w.values,
  }
}

export function listStatement(query: DeadLetterQuery, placeholder: Placeholder): Built {
  const w = where({ ...query, discarded: query.discarded === true }, placeholder)
  return {
    text: `
      SELECT ${ROW_COLUMNS}
      FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE ${w.text} ORDER BY d.id DESC LIMIT ${w.bind(query.limit)}`,
    values: w.values,
  }
}

export function countStatement(filter: DeadLetterFilter, placeholder: Placeholder): Built {
  const w = where({ ...filter, discarded: false }, placeholder)
  return {
    text: `SELECT count(*) AS count, max(d.id) AS up_to FROM ${from(filter)} WHERE ${w.text}`,
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
  placeholder: Placeholder,
): Built {
  const w = where({ ...filter, upTo, afterId, discarded: false }, placeholder)
  return {
    text: `SELECT d.id FROM ${from(filter)} WHERE ${w.text} ORDER BY d.id LIMIT ${w.bind(DEAD_LETTER_CHUNK)}`,
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
