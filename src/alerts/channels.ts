// Where alerts go: ALERT_WEBHOOK_URL (one signed JSON channel) and ALERTS (JSON or YAML, a list of
// channels, each with a format). Checked once at start, as targets are (delivery/targets.ts): a
// mistake names the channel and the field, and never quotes a value (tokens and passwords).
import { createRequire } from 'node:module'
import { z } from 'zod'
import { decodeWebhookSecret } from '../delivery/standard-webhooks.ts'
import { targetNameSchema } from '../delivery/targets.ts'
import { CONDITIONS } from './conditions.ts'
import { parseQuietHours, QUIET_HOURS, type QuietHours } from './quiet-hours.ts'

export const CHANNEL_FORMATS = ['json', 'slack', 'discord', 'telegram', 'email'] as const
export type ChannelFormat = (typeof CHANNEL_FORMATS)[number]

const httpUrl = z.url({ protocol: /^https?$/, error: 'Invalid URL (http or https)' })
const secretSchema = z.string().superRefine((secret, ctx) => {
  try {
    decodeWebhookSecret(secret)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `webhook secret ${(error as Error).message}` })
  }
})

/** Which alerts a channel takes, and when: every kind has these. */
const picks = {
  conditions: z.array(z.enum(CONDITIONS)).min(1).optional(),
  sessions: z.array(z.string().min(1)).min(1).optional(),
  quietHours: z.string().regex(QUIET_HOURS, 'must be HH:MM-HH:MM, e.g. 22:00-07:00').optional(),
  timeZone: z
    .string()
    .refine((zone) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: zone })
        return true
      } catch {
        return false
      }
    }, 'must be an IANA time zone, e.g. Europe/Berlin')
    .optional(),
}

const channelSchema = z.discriminatedUnion(
  'format',
  [
    z.strictObject({
      format: z.literal('json'),
      name: targetNameSchema,
      url: httpUrl,
      secret: secretSchema.optional(),
      ...picks,
    }),
    z.strictObject({ format: z.literal('slack'), name: targetNameSchema, url: httpUrl, ...picks }),
    z.strictObject({ format: z.literal('discord'), name: targetNameSchema, url: httpUrl, ...picks }),
    z.strictObject({
      format: z.literal('telegram'),
      name: targetNameSchema,
      botToken: z
        .string()
        .regex(/^[0-9]+:[A-Za-z0-9_-]+$/, 'must be a bot token as BotFather gives it (123456:ABC-...)'),
      chatId: z.union([z.string().min(1), z.int()]),
      apiUrl: httpUrl.default('https://api.telegram.org'),
      ...picks,
    }),
    z.strictObject({
      format: z.literal('email'),
      name: targetNameSchema,
      host: z.string().min(1),
      port: z.int().min(1).max(65535).default(587),
      /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
      secure: z.boolean().default(false),
      user: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      from: z.string().min(3),
      to: z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]),
      ...picks,
    }),
  ],
  { error: `must be one of ${CHANNEL_FORMATS.join(', ')}` },
)

export type ChannelInput = z.output<typeof channelSchema>

export type AlertChannel = Readonly<
  ChannelInput & {
    /** json: the secrets it is signed with (empty = unsigned). */
    secrets: readonly string[]
    /** When its messages wait; null = never. */
    quiet: QuietHours | null
  }
>

export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError'
}

export interface ChannelSources {
  webhookUrl?: string | undefined
  alerts?: string | undefined
  /** Signs the json channels without a secret of their own (FORWARD_SECRET, or the one kept in DATA_DIR). */
  signingSecret: () => string | null
}

/** The name ALERT_WEBHOOK_URL's channel takes. */
export const WEBHOOK_CHANNEL = 'webhook'

export function loadChannels(sources: ChannelSources): AlertChannel[] {
  const raw: unknown[] = []
  const webhookUrl = sources.webhookUrl?.trim()
  if (webhookUrl) raw.push({ format: 'json', name: WEBHOOK_CHANNEL, url: webhookUrl })
  const text = sources.alerts?.trim()
  if (text) {
    const listed = parseList(text)
    if (!Array.isArray(listed)) throw new ChannelConfigError('ALERTS must be a list of channels')
    raw.push(...listed)
  }
  const seen = new Set<string>()
  return raw.map((item, index) => {
    const label =
      index === 0 && webhookUrl ? 'ALERT_WEBHOOK_URL' : `ALERTS[${webhookUrl ? index - 1 : index}]`
    const input =
      typeof item === 'object' && item !== null && !Array.isArray(item) && !('format' in item)
        ? { ...item, format: 'json' }
        : item
    const parsed = channelSchema.safeParse(input)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const path = issue ? issue.path.map((part) => `.${String(part)}`).join('') : ''
      throw new ChannelConfigError(`${label}${path}: ${issue?.message ?? 'invalid'}`)
    }
    const channel = parsed.data
    if (seen.has(channel.name)) {
      throw new ChannelConfigError(`${label}.name: "${channel.name}" is the name of an earlier alert channel`)
    }
    seen.add(channel.name)
    if (channel.format === 'email' && (channel.user === undefined) !== (channel.password === undefined)) {
      throw new ChannelConfigError(`${label}: set both user and password, or neither`)
    }
    let secrets: string[] = []
    if (channel.format === 'json') {
      const secret = channel.secret ?? sources.signingSecret()
      secrets = secret ? [secret] : []
    }
    if (channel.timeZone !== undefined && channel.quietHours === undefined) {
      throw new ChannelConfigError(`${label}.timeZone: only with quietHours`)
    }
    const quiet =
      channel.quietHours === undefined ? null : parseQuietHours(channel.quietHours, channel.timeZone)
    return Object.freeze({ ...channel, secrets: Object.freeze(secrets), quiet }) as AlertChannel
  })
}

/** JSON is YAML too: one parser reads both. Errors say where, never quote the text. */
function parseList(text: string): unknown {
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  const document = parseDocument(text)
  const [error] = document.errors
  if (error) {
    const position = error.linePos?.[0]
    const where = position ? ` at line ${position.line}, column ${position.col}` : ''
    throw new ChannelConfigError(`ALERTS is not valid JSON or YAML${where}`)
  }
  return document.toJS()
}

/** Whether a channel takes alerts of this condition and session. */
export function channelWants(channel: AlertChannel, condition: string, session: string | null): boolean {
  if (channel.conditions && !(channel.conditions as readonly string[]).includes(condition)) return false
  if (channel.sessions && session !== null && !channel.sessions.includes(session)) return false
  return true
}

/** A channel as the admin API shows it: where it goes, its secrets left out. */
export function describeChannel(channel: AlertChannel): Record<string, unknown> {
  const base = {
    name: channel.name,
    format: channel.format,
    conditions: channel.conditions ?? null,
    sessions: channel.sessions ?? null,
  }
  switch (channel.format) {
    case 'json':
    case 'slack':
    case 'discord':
      // Slack's and Discord's webhook URLs are their secret: the origin only.
      return { ...base, destination: new URL(channel.url).origin }
    case 'telegram':
      return { ...base, destination: `telegram chat ${channel.chatId}` }
    case 'email':
      return {
        ...base,
        destination: `smtp ${channel.host}:${channel.port} to ${[channel.to].flat().join(', ')}`,
      }
  }
}
