// A broker that takes the connection and then says nothing (a hung server, a firewall that lets
// SYN through): every kind gives up at the target's deadline, as a timeout (or, for MQTT, the
// CONNACK that never came), and the relay's shutdown is not held up by the connect under way.
// Needs no broker: the silent server is a local socket.
import { createServer, type Server, type Socket } from 'node:net'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSender } from '../../src/delivery/sender.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import type { ClaimedDelivery } from '../../src/store/types.ts'

let server: Server
let port = 0
const sockets = new Set<Socket>()
beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  port = (server.address() as { port: number }).port
})
afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
})

const delivery: ClaimedDelivery = {
  id: 1,
  target: 't',
  attempts: 0,
  eventKey: 's:message:1',
  whatsappId: 's',
  action: 'message',
  body: Buffer.from('{"id":1}'),
  receivedAt: 0,
}

describe('a broker that never answers', () => {
  it.each([
    ['amqp', { exchange: 'x', routingKey: 'k' }, 'amqp'],
    ['nats', { subject: 's' }, 'nats'],
    ['redis', { stream: 's' }, 'redis'],
    ['mqtt', { topic: 's' }, 'mqtt'],
  ])('%s: fails at the deadline, and closes at once', async (type, fields, scheme) => {
    const target = createTarget({
      type,
      name: 't',
      url: `${scheme}://127.0.0.1:${port}`,
      events: ['*'],
      timeoutMs: 300,
      ...fields,
    })
    const sender = await createSender({ targets: [target], userAgent: 't', log: pino({ level: 'silent' }) })
    const outcome = await sender.send(target, {
      delivery,
      body: delivery.body,
      timestamp: 1,
      metadata: { 'webhook-id': delivery.eventKey },
    })
    expect(outcome).toMatchObject({ ok: false, status: null, responseExcerpt: null })
    expect(outcome.durationMs).toBeGreaterThanOrEqual(250)
    expect(outcome.durationMs).toBeLessThan(2000)
    if (type === 'mqtt') {
      // mqtt.js's own connect timeout is the attempt's: whichever fires first says so.
      expect(outcome.error).toMatch(
        /^(timeout after 300 ms waiting for mqtt to confirm|mqtt: not connected: connack timeout)$/,
      )
    } else {
      expect(outcome).toMatchObject({
        timedOut: true,
        error: `timeout after 300 ms waiting for ${type} to confirm`,
      })
    }
    const started = Date.now()
    await sender.close()
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
