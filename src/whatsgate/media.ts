// Inline media: a target may opt in to receiving a message's media file inside the event, so it
// need not hold a WhatsGate API key. This is the one place the relay rewrites an event's JSON.
import type { CallOptions, MessageMedia, WhatsGateClient } from './api-client.ts'
import { WhatsGateApiError } from './api-errors.ts'

export type { MessageMedia }

/** A new body with `event_data.message.media` set; everything else is kept. */
export function withInlineMedia(body: Buffer, media: MessageMedia): Buffer {
  const event: unknown = JSON.parse(body.toString('utf8'))
  const message = messageOf(event)
  if (!message) throw new TypeError('the event has no event_data.message object to attach media to')
  message.media = { mimetype: media.mimetype, filename: media.filename, data: media.data }
  return Buffer.from(JSON.stringify(event))
}

/** The session and message id whose media can be fetched, or null when the event carries none. */
export function mediaReference(body: Buffer): { whatsappId: string; messageId: string } | null {
  let event: unknown
  try {
    event = JSON.parse(body.toString('utf8'))
  } catch {
    return null
  }
  const message = messageOf(event)
  if (message?.hasMedia !== true || typeof message.id !== 'string') return null
  const whatsappId = (event as { whatsapp_id?: unknown }).whatsapp_id
  if (typeof whatsappId !== 'string') return null
  return { whatsappId, messageId: message.id }
}

/**
 * The media of a message, or null when WhatsGate answers that it has none (or no longer has the
 * message). An outage is thrown (WhatsGateUnavailableError) so the caller can retry later.
 */
export async function fetchMedia(
  client: Pick<WhatsGateClient, 'getMessageMedia'>,
  whatsappId: string,
  messageId: string,
  options?: CallOptions,
): Promise<MessageMedia | null> {
  try {
    return await client.getMessageMedia(whatsappId, messageId, options)
  } catch (err) {
    if (err instanceof WhatsGateApiError && err.name !== 'Unauthorized') return null
    throw err
  }
}

function messageOf(event: unknown): Record<string, unknown> | null {
  if (!isObject(event) || !isObject(event.event_data)) return null
  const message = event.event_data.message
  return isObject(message) ? message : null
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
