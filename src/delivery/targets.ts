// A target: where events go, and how (signing, timeout, retries, concurrency, ordering). Defined
// here, with the schema that checks one; config/target-sources.ts reads them from the environment.
// Its `type` picks the kind (http by default, a broker: destinations/broker-targets.ts holds
// their fields, or a stream its consumers pull: stream/); routing (content filters too) is the
// same for every kind, and retries, concurrency and ordering for every kind the relay pushes to.
// Each is checked once, at start, into a frozen object; a mistake stops start-up with a message
// naming the target and the field, because a silently skipped target is an outage nobody notices.

import { z } from 'zod'
import { isKnownAction, KNOWN_ACTIONS } from '../events/schemas.ts'
import { CLOUDEVENT_HEADERS } from './cloudevents.ts'
import { type EventFilter, filterSchema } from './content-filter.ts'
import {
  amqpFields,
  HTTP_ONLY_FIELDS,
  mqttFields,
  natsFields,
  redisFields,
} from './destinations/broker-targets.ts'
import { decodeWebhookSecret } from './standard-webhooks.ts'

// Headers the relay sets itself: a target overriding them would break framing, signing or routing.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-whatsgate-event',
  'x-whatsgate-session',
  ...CLOUDEVENT_HEADERS,
])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Visible ASCII, space and tab only: a CR/LF would otherwise fail on every send, not at start.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/
// Names end up in store rows, metric labels and admin URLs, so keep them to a URL-safe alphabet.
/** A target's name: stored in rows, a metric label and part of admin URLs. */
export const targetNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters of letters, digits, ".", "_" or "-"')
// The Standard Webhooks spec asks for 24..64 byte keys; shorter ones work but are weak.
const MIN_SECRET_BYTES = 24

const secretSchema = z.string().superRefine((secret, ctx) => {
  try {
    decodeWebhookSecret(secret)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `webhook secret ${(error as Error).message}` })
  }
})

const headerSchema = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid header name' })
    } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the relay and cannot be overridden' })
    } else if (!HEADER_VALUE.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'value must be printable ASCII (no line breaks)',
      })
    }
  }
})

const MAX_ATTEMPTS = 1000

const retrySchema = z
  .strictObject({
    // Default 15, or with maxAgeMs alone the cap: then the age is the limit the operator set.
    maxAttempts: z.int().min(1).max(MAX_ATTEMPTS).optional(),
    maxAgeMs: z.int().positive().optional(),
    // Positive rather than a large minimum: tests run short schedules; production uses defaults.
    initialDelayMs: z.int().positive().default(60_000),
    maxDelayMs: z.int().positive().default(21_600_000),
  })
  .refine((retry) => retry.maxDelayMs >= retry.initialDelayMs, {
    message: 'must be at least initialDelayMs',
    path: ['maxDelayMs'],
  })

/** Which events a target gets: every kind has these. */
const routingFields = {
  events: z.array(z.string().min(1)).min(1),
  sessions: z
    .array(z.string().min(1))
    .min(1, 'list at least one session, or leave sessions out for all')
    .optional(),
  filter: filterSchema.optional(),
}

/** How the relay pushes: the fields of every kind but a stream, which its consumers pull. */
const pushFields = {
  // Capped so a lease taken by the dispatcher can always outlive one attempt.
  timeoutMs: z.int().min(1).max(300_000).default(10_000),
  retry: retrySchema.optional(),
  concurrency: z.int().min(1).max(256).default(64),
  ordering: z.enum(['none', 'chat']).default('none'),
}

/** The fields every kind of target the relay pushes to has, besides its name and where it goes. */
const commonFields = { ...routingFields, ...pushFields }
/** A stream's push settings: the defaults, unused. */
const pushSchema = z.object(pushFields)

export const TARGET_TYPES = ['http', 'amqp', 'nats', 'redis', 'mqtt', 'stream'] as const
export type TargetType = (typeof TARGET_TYPES)[number]

const targetInputSchema = z.preprocess(
  // `type` defaults to http, as every target was before there were other kinds.
  (input) =>
    typeof input === 'object' && input !== null && !Array.isArray(input) && !('type' in input)
      ? { ...input, type: 'http' }
      : input,
  z.discriminatedUnion(
    'type',
    [
      z.strictObject({
        type: z.literal('http'),
        // name, url, then the rest: the first issue reported is the first field in this order.
        name: targetNameSchema,
        url: z.url({ protocol: /^https?$/, error: 'Invalid URL (http or https)' }),
        ...commonFields,
        headers: headerSchema.optional(),
        secret: z.union([secretSchema, z.array(secretSchema).min(1)]).optional(),
        media: z.enum(['none', 'inline']).default('none'),
        format: z.enum(['webhook', 'cloudevents']).default('webhook'),
      }),
      z.strictObject({ type: z.literal('amqp'), name: targetNameSchema, ...amqpFields, ...commonFields }),
      z.strictObject({ type: z.literal('nats'), name: targetNameSchema, ...natsFields, ...commonFields }),
      z.strictObject({ type: z.literal('redis'), name: targetNameSchema, ...redisFields, ...commonFields }),
      z.strictObject({ type: z.literal('mqtt'), name: targetNameSchema, ...mqttFields, ...commonFields }),
      z.strictObject({
        type: z.literal('stream'),
        name: targetNameSchema,
        // Its consumers' only secret, as long as the ingest token must be; it travels in a header
        // or a query string, so visible ASCII only.
        token: z
          .string()
          .min(16, 'must be at least 16 characters')
          .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters, no spaces'),
        ...routingFields,
      }),
    ],
    { error: `must be one of ${TARGET_TYPES.join(', ')}` },
  ),
)

export interface RetrySettings {
  readonly maxAttempts: number
  /** Stop retrying once the event is older than this; null = only maxAttempts limits. */
  readonly maxAgeMs: number | null
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

interface TargetBase {
  readonly name: string
  /**
   * Where it goes: an http(s) endpoint, a broker (credentials in it are never logged), or for a
   * stream the relay's own path its consumers read (`/stream/<name>`).
   */
  readonly url: string
  /** Event actions routed here; `*` = all, including actions we do not know. */
  readonly events: readonly string[]
  /** WhatsApp session ids routed here; null = all sessions. */
  readonly sessions: readonly string[] | null
  /** The content filter, compiled (content-filter.ts); undefined = every event routed here. */
  readonly filter?: EventFilter | undefined
  // A stream has the defaults of the four below and uses none of them: its consumers pull.
  /** Extra request headers, names lower-cased; http only (empty for the other kinds). */
  readonly headers: Readonly<Record<string, string>>
  /** Standard Webhooks secrets; empty = unsigned; http only. */
  readonly secrets: readonly string[]
  readonly timeoutMs: number
  readonly retry: RetrySettings
  /** The most sends in flight: a cap; the dispatcher adapts below it to how the target answers. */
  readonly concurrency: number
  readonly ordering: 'none' | 'chat'
  /** http only: `none` for the other kinds. */
  readonly media: 'none' | 'inline'
  /** `cloudevents`: CloudEvents binary mode (`ce-*` headers) beside the Standard Webhooks ones; http only. */
  readonly format: 'webhook' | 'cloudevents'
}

/** What each kind adds: where in its broker an event goes (templates over session, action, target). */
export type Destination =
  | { readonly type: 'http' }
  | { readonly type: 'amqp'; readonly exchange: string; readonly routingKey: string }
  | { readonly type: 'nats'; readonly subject: string }
  | { readonly type: 'redis'; readonly stream: string; readonly maxLen: number | null }
  | { readonly type: 'mqtt'; readonly topic: string }
  | { readonly type: 'stream'; readonly token: string }

export type Target = TargetBase & Destination

/** A target of one kind. */
export type TargetOf<T extends TargetType> = Target & { readonly type: T }

export class TargetConfigError extends Error {
  override name = 'TargetConfigError'
}

/** Parses and normalises one target; for tests and for the loader. Throws TargetConfigError. */
export function createTarget(
  input: unknown,
  label = 'target',
  warn: (msg: string) => void = () => {},
): Target {
  if (typeof input === 'object' && input !== null && 'type' in input && input.type !== 'http') {
    const field = HTTP_ONLY_FIELDS.find((name) => name in input)
    if (field && TARGET_TYPES.includes(input.type as TargetType)) {
      throw new TargetConfigError(`${label}.${field}: only http targets have ${field}`)
    }
    const pushed = Object.keys(pushFields).find((name) => name in input)
    if (input.type === 'stream' && pushed) {
      throw new TargetConfigError(`${label}.${pushed}: a stream target has no ${pushed} (its consumers pull)`)
    }
  }
  const parsed = targetInputSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue ? issue.path.map((part) => `.${String(part)}`).join('') : ''
    throw new TargetConfigError(`${label}${path}: ${issue?.message ?? 'invalid'}`)
  }
  const data = parsed.data
  for (const event of data.events) {
    if (event !== '*' && !isKnownAction(event)) {
      warn(
        `${label}.events: "${event}" is not a documented WhatsGate action (${KNOWN_ACTIONS.join(', ')}); ` +
          'it is still routed if WhatsGate sends it',
      )
    }
  }
  const push = data.type === 'stream' ? pushSchema.parse({}) : data
  const retry = push.retry ?? retrySchema.parse({})
  const common = {
    name: data.name,
    url: data.type === 'stream' ? `/stream/${data.name}` : data.url,
    events: Object.freeze([...new Set(data.events)]),
    sessions: data.sessions ? Object.freeze([...new Set(data.sessions)]) : null,
    timeoutMs: push.timeoutMs,
    retry: Object.freeze({
      maxAttempts: retry.maxAttempts ?? (retry.maxAgeMs === undefined ? 15 : MAX_ATTEMPTS),
      maxAgeMs: retry.maxAgeMs ?? null,
      initialDelayMs: retry.initialDelayMs,
      maxDelayMs: retry.maxDelayMs,
    }),
    concurrency: push.concurrency,
    ordering: push.ordering,
    filter: data.filter,
  }
  const noHttp = {
    headers: Object.freeze({}),
    secrets: Object.freeze([]),
    media: 'none',
    format: 'webhook',
  } as const
  switch (data.type) {
    case 'http':
      return httpTarget(data, common, label, warn)
    case 'amqp':
      return Object.freeze({
        ...common,
        ...noHttp,
        type: data.type,
        exchange: data.exchange,
        routingKey: data.routingKey,
      })
    case 'nats':
      return Object.freeze({ ...common, ...noHttp, type: data.type, subject: data.subject })
    case 'redis':
      return Object.freeze({
        ...common,
        ...noHttp,
        type: data.type,
        stream: data.stream,
        maxLen: data.maxLen ?? null,
      })
    case 'mqtt':
      return Object.freeze({ ...common, ...noHttp, type: data.type, topic: data.topic })
    case 'stream':
      return Object.freeze({ ...common, ...noHttp, type: data.type, token: data.token })
  }
}

/** Whether the relay pushes to this target (the dispatcher's work), or its consumers pull (a stream). */
export function isPushed(target: Target): boolean {
  return target.type !== 'stream'
}

type Parsed = z.output<typeof targetInputSchema>

function httpTarget(
  data: Parsed & { type: 'http' },
  common: Omit<TargetBase, 'headers' | 'secrets' | 'media' | 'format'>,
  label: string,
  warn: (msg: string) => void,
): Target {
  const secrets =
    data.secret === undefined ? [] : typeof data.secret === 'string' ? [data.secret] : data.secret
  for (const secret of secrets) {
    if (decodeWebhookSecret(secret).length < MIN_SECRET_BYTES) {
      warn(`${label}.secret: shorter than the ${MIN_SECRET_BYTES} bytes Standard Webhooks asks for`)
    }
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(data.headers ?? {})) headers[name.toLowerCase()] = value
  return Object.freeze({
    ...common,
    type: data.type,
    headers: Object.freeze(headers),
    secrets: Object.freeze([...secrets]),
    media: data.media,
    format: data.format,
  })
}
