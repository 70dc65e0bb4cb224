// Result rows to domain objects. Both stores select the same column names, so one mapping serves.
import type { ClaimedDelivery, DeliveryRow, DeliveryStatus } from './types.ts'

type Row = Record<string, unknown>

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
