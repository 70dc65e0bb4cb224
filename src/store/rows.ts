// Result rows to domain objects and domain values to columns. Both stores select and write the
// same column names, so one mapping serves.
import type {
  AttemptErrorClass,
  AttemptOutcome,
  AttemptRow,
  ClaimedDelivery,
  DeliveryDecision,
  DeliveryDetail,
  DeliveryRow,
  DeliveryStatus,
  EventRow,
  RefusedRow,
  SchemaIssue,
} from './types.ts'

export type Row = Record<string, unknown>

export function toClaimed(row: Row, body: Buffer): ClaimedDelivery {
  return {
    id: row.id as number,
    target: row.target as string,
    attempts: row.attempts as number,
    eventKey: row.key as string,
    whatsappId: row.whatsapp_id as string,
    action: row.action as string,
    body,
    receivedAt: row.received_at as number,
  }
}

export function toDeliveryRow(row: Row): DeliveryRow {
  return {
    id: row.id as number,
    target: row.target as string,
    status: row.status as DeliveryStatus,
    eventKey: row.key as string,
    whatsappId: row.whatsapp_id as string,
    action: row.action as string,
    attempts: row.attempts as number,
    nextAttemptAt: row.next_attempt_at as number,
    lastStatus: row.last_status as number | null,
    lastError: row.last_error as string | null,
    receivedAt: row.received_at as number,
    finishedAt: row.finished_at as number | null,
  }
}

export function toAttemptRow(row: Row): AttemptRow {
  return {
    id: row.id as number,
    deliveryId: row.delivery_id as number,
    startedAt: row.started_at as number,
    durationMs: row.duration_ms as number,
    status: row.status as number | null,
    errorClass: row.error_class as AttemptErrorClass | null,
    error: row.error as string | null,
    responseExcerpt: row.response_excerpt as string | null,
    replica: row.replica as string,
    replay: row.replay as number,
  }
}

/** Attempt rows (ordered) under the deliveries they belong to, each delivery's oldest first. */
export function withAttempts(deliveries: DeliveryRow[], attempts: AttemptRow[]): DeliveryDetail[] {
  const byDelivery = new Map(deliveries.map((delivery) => [delivery.id, [] as AttemptRow[]]))
  for (const attempt of attempts) byDelivery.get(attempt.deliveryId)?.push(attempt)
  return deliveries.map((delivery) => ({ ...delivery, history: byDelivery.get(delivery.id) ?? [] }))
}

export function toEventRow(row: Row): EventRow {
  return {
    seq: row.seq as number,
    key: row.key as string,
    whatsappId: row.whatsapp_id as string,
    eventId: row.event_id as string,
    action: row.action as string,
    eventDate: row.event_date as string,
    chat: row.chat as string | null,
    receivedAt: row.received_at as number,
    issues: row.issues === null ? null : (JSON.parse(row.issues as string) as SchemaIssue[]),
  }
}

export function toRefusedRow(row: Row, body: Buffer | null): RefusedRow {
  return {
    id: row.id as number,
    receivedAt: row.received_at as number,
    reason: row.reason as string,
    status: row.status as number,
    headers: JSON.parse(row.headers as string) as Record<string, string>,
    body,
    bodySize: row.body_size as number | null,
  }
}

/** The headers column: JSON text, null for an event that came without a request (backfill). */
export function headersColumn(headers: Readonly<Record<string, string>> | null): string | null {
  return headers === null ? null : JSON.stringify(headers)
}

export function headersOf(row: Row): Record<string, string> | null {
  return row.headers === null ? null : (JSON.parse(row.headers as string) as Record<string, string>)
}

/** The issues column: null for a conforming event, so the non-conforming index stays small. */
export function issuesColumn(issues: readonly SchemaIssue[]): string | null {
  return issues.length === 0 ? null : JSON.stringify(issues)
}

/** The record statement's status and next-attempt columns; null keeps the row's own. */
export function decisionColumns(decision: DeliveryDecision): {
  status: DeliveryStatus | null
  next: number | null
} {
  switch (decision.kind) {
    case 'delivered':
      return { status: 'delivered', next: null }
    case 'retry':
      return { status: null, next: decision.at }
    case 'dead':
      return { status: 'dead', next: null }
  }
}

function withoutNul(text: string | null): string | null {
  return text?.replaceAll('\0', '\uFFFD') ?? null
}

/** The attempt row's columns of an outcome; the replica is the lease owner that made it. */
export function attemptColumns(outcome: AttemptOutcome) {
  return {
    // Whole milliseconds: both stores keep them in integer columns, which refuse a fraction.
    started: Math.round(outcome.startedAt),
    duration: Math.round(outcome.durationMs),
    http: outcome.httpStatus,
    errorClass: outcome.errorClass,
    // A target's answer may hold NUL characters, which PostgreSQL text cannot: shown as U+FFFD,
    // so the outcome is recorded rather than failing (and the delivery sent again) forever.
    error: withoutNul(outcome.error),
    excerpt: withoutNul(outcome.responseExcerpt),
    replica: outcome.owner,
  }
}
