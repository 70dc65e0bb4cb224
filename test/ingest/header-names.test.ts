// Header names are the sender's to choose: one named like a member of every JavaScript object
// (`constructor`, `__proto__`, `toString`) is kept and shown as sent, with an event and with a
// refused request alike. Real HTTP in, each real store (SQLite, PostgreSQL), and the admin API out.
import { once } from 'node:events'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { freshSchema, postgresSkipReason, type TestSchema } from '../support/postgres.ts'
import { buildTestApp, TEST_TOKEN } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const SENT: [string, string][] = [
  ['constructor', 'built by hand'],
  ['__proto__', 'not a prototype'],
  ['toString', 'as text'],
  ['x-plain', 'plain'],
]
/** Names are kept lower-cased (request-headers.ts); these values are not secrets, so kept as sent. */
const KEPT = SENT.map(([name, value]) => [name.toLowerCase(), value])

let relay: Awaited<ReturnType<typeof buildTestApp>>
let schema: TestSchema | null = null
afterEach(async () => {
  await relay.close()
  await schema?.drop()
  schema = null
})

async function listening(store: 'sqlite' | 'postgres') {
  schema = store === 'postgres' ? await freshSchema() : null
  relay = await buildTestApp({ ADMIN_TOKEN, ...(schema && { DATABASE_URL: schema.url }) })
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = relay.app.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  return {
    /** The status answered. On a socket of its own: fetch drops a header named `__proto__`. */
    async webhook(body: string) {
      const socket = connect(port, '127.0.0.1')
      let received = ''
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        received += chunk
      })
      const headers = [
        'Host: 127.0.0.1',
        'Connection: close',
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...SENT.map(([name, value]) => `${name}: ${value}`),
      ]
      socket.write(`POST /webhook/${TEST_TOKEN} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`)
      await once(socket, 'close')
      return Number(received.split(' ')[1])
    },
    admin: async (path: string) => {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(response.status, path).toBe(200)
      // Parsed as JSON text, so a `__proto__` key comes back an own property, as in any client.
      return JSON.parse(await response.text())
    },
  }
}

/** The sent ones among the headers' own entries (`toEqual` on objects would miss an own `__proto__`). */
const sentOf = (headers: object) =>
  Object.entries(headers).filter(([name]) => KEPT.some(([kept]) => kept === name))

const stores = [
  { store: 'sqlite', skip: null },
  { store: 'postgres', skip: postgresSkipReason },
] as const

for (const { store, skip } of stores)
  describe.skipIf(skip !== null)(
    `header names like Object members, ${store}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('are kept as sent with an event, and read back through the admin API', async () => {
        const { webhook, admin } = await listening(store)
        const event = {
          id: 1,
          whatsapp_id: 'wa-headers',
          event_action: 'message',
          event_date: '2024-05-01 10:00:00',
          event_data: { message: { id: 'false_79990000000@c.us_1', body: 'hi', type: 'chat' } },
        }
        expect(await webhook(JSON.stringify(event))).toBe(200)

        const stored = await admin(`/admin/events/${encodeURIComponent('wa-headers:message:1')}`)
        expect(sentOf(stored.headers)).toEqual(KEPT)
      })

      it('are kept as sent with a refused request, and read back through the admin API', async () => {
        const { webhook, admin } = await listening(store)
        expect(await webhook('not json')).toBe(400)

        const { refused } = await admin('/admin/refused')
        expect(refused).toHaveLength(1)
        expect(sentOf(refused[0].headers)).toEqual(KEPT)
      })
    },
  )
