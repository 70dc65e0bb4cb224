// The fields of each broker kind of target, as zod schemas: checked at start, with no broker client
// loaded (each kind's sender module imports its client, and is itself imported only when a target
// of its kind exists). The fields every kind shares are targets.ts's.
import { z } from 'zod'
import { sampleOf, templateProblem } from './template.ts'

function urlOf(schemes: readonly string[]) {
  const list = schemes.map((scheme) => `${scheme}://`).join(' or ')
  return z
    .string()
    .refine((text) => URL.canParse(text) && schemes.includes(new URL(text).protocol.slice(0, -1)), {
      // The value is not echoed: it may carry a password.
      message: `Invalid URL (${list}; value not shown)`,
    })
}

/** A routing template; `literal` says what is wrong with its fixed parts for this kind, or null. */
function templateOf(literal: (sample: string) => string | null) {
  return z
    .string()
    .min(1)
    .superRefine((template, ctx) => {
      const problem = templateProblem(template) ?? literal(sampleOf(template))
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
}

export const amqpFields = {
  url: urlOf(['amqp', 'amqps']),
  // "" is RabbitMQ's default exchange: the routing key is then a queue's name.
  exchange: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9._:-]*$/, 'an exchange name is letters, digits, ".", "_", ":" or "-"'),
  routingKey: templateOf((sample) =>
    Buffer.byteLength(sample) > 200 ? 'too long (a routing key is at most 255 bytes)' : null,
  ),
}

export const natsFields = {
  url: urlOf(['nats', 'tls']),
  subject: templateOf((sample) =>
    /^[^\s.*>]+(\.[^\s.*>]+)*$/.test(sample)
      ? null
      : 'a subject is tokens separated by ".", none empty, without spaces or the wildcards "*" and ">"',
  ),
}

export const redisFields = {
  url: urlOf(['redis', 'rediss']),
  stream: templateOf(() => null),
  /** Trims the stream to about this many entries (`XADD … MAXLEN ~ n`). */
  maxLen: z.int().positive().optional(),
}

export const mqttFields = {
  url: urlOf(['mqtt', 'mqtts', 'ws', 'wss']),
  topic: templateOf((sample) => {
    if (/[+#\0]/.test(sample)) return 'a topic to publish to cannot hold "+", "#" or NUL'
    if (sample.startsWith('$')) return 'topics starting with "$" are the broker\'s own'
    return null
  }),
}

/** Fields only an HTTP target has: a broker target naming one is refused with this message. */
export const HTTP_ONLY_FIELDS = ['headers', 'secret', 'format', 'media'] as const
