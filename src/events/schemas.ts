// WhatsGate's webhook envelope and the data of each documented action.
// Objects are loose: WhatsGate adds fields, and the relay keeps and forwards them untouched.
import { z } from 'zod'

export const KNOWN_ACTIONS = ['ready', 'message', 'sent', 'ack', 'disconnect', 'error', 'create'] as const
export type KnownAction = (typeof KNOWN_ACTIONS)[number]

const eventDate = z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'expected "YYYY-MM-DD HH:MM:SS"')

// What makes a body an event the relay can take: the fields it keys, dedupes and answers by.
// Everything else is checked against the documentation below, and a miss only flags the event.
const noColon = /^[^:]+$/
// PostgreSQL's text cannot hold a NUL: such an event could never be stored, so it is refused at once.
const noNul = /^[^\0]*$/
const identityFields = {
  // Answered back as it came: WhatsGate matches the answer to its request by this id.
  id: z.union([z.int(), z.string().min(1).max(128).regex(noNul, 'must not contain a NUL character')]),
  // No ':' in these two, so the event key `<whatsapp_id>:<event_action>:<id>` names one event only.
  whatsapp_id: z
    .string()
    .min(1)
    .max(128)
    .regex(noColon, 'must not contain ":"')
    .regex(noNul, 'must not contain a NUL character'),
  event_action: z
    .string()
    .min(1)
    .max(64)
    .regex(noColon, 'must not contain ":"')
    .regex(noNul, 'must not contain a NUL character'),
}
export const identitySchema = z.looseObject(identityFields)
export type EventIdentity = z.infer<typeof identitySchema>

// The envelope as WhatsGate's webhook page documents it.
export const envelopeSchema = z.looseObject({
  ...identityFields,
  id: z.number().int().nonnegative(),
  event_date: eventDate,
  status_code: z.union([z.null(), z.number(), z.string()]).optional(),
  event_data: z.looseObject({}),
})
export type Envelope = z.infer<typeof envelopeSchema>

export const quotedSchema = z.looseObject({
  _id: z.string().nullish(),
  from: z.string().nullish(),
  type: z.string().nullish(),
  body: z.string().nullish(),
})

// Only `id` is required: it names the chat (ordering) and the message (media). The rest is typed
// when present, since WhatsGate's page documents the fields but not which ones are always sent;
// null counts as absent, since a 400 for a null would make WhatsGate drop the event.
export const messageSchema = z.looseObject({
  _id: z.string().nullish(),
  id: z.string().min(1),
  ack: z.number().int().nullish(),
  hasMedia: z.boolean().nullish(),
  mediaKey: z.string().nullish(),
  body: z.string().nullish(),
  type: z.string().nullish(),
  timestamp: z.number().nullish(),
  from: z.string().nullish(),
  to: z.string().nullish(),
  isForwarded: z.boolean().nullish(),
  quoted: quotedSchema.nullish(),
})
export type Message = z.infer<typeof messageSchema>

const messageData = z.looseObject({ message: messageSchema })

export const actionDataSchemas = {
  ready: z.looseObject({
    pushname: z.string().nullish(),
    number: z.string().nullish(),
    id: z.string().nullish(),
  }),
  message: messageData,
  sent: messageData,
  ack: messageData,
  create: messageData,
  disconnect: z.looseObject({ reason: z.string().nullish() }),
  error: z.looseObject({ error: z.union([z.string(), z.looseObject({})]).nullish() }),
} satisfies Record<KnownAction, z.ZodType>

export type ReadyData = z.infer<typeof actionDataSchemas.ready>
export type MessageData = z.infer<typeof messageData>
export type DisconnectData = z.infer<typeof actionDataSchemas.disconnect>
export type ErrorData = z.infer<typeof actionDataSchemas.error>

export function isKnownAction(action: string): action is KnownAction {
  return Object.hasOwn(actionDataSchemas, action)
}
