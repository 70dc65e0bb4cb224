// The mqtt kind: one MQTT 5 client per target, which mqtt.js reconnects on its own. Published at
// QoS 1 and done on the PUBACK (a PUBACK with an error reason code is a failure; "no matching
// subscribers" is not: the topic is the destination). The relay's metadata travel as user
// properties. While the client is offline a send fails at once rather than queue in memory.
import { connect, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { Sender } from '../sender.ts'
import type { TargetOf } from '../targets.ts'
import { confirmWithin, createLink, describeBrokerError, type Link, redactedUrl } from './broker-link.ts'
import { renderTemplate } from './template.ts'

interface Connection {
  link: Link
  client: MqttClient
}

export function createMqttSender({ log }: { log: Logger }): Sender {
  const connections = new Map<string, Connection>()
  return {
    send(target, { delivery, body, metadata }) {
      if (target.type !== 'mqtt') throw new Error(`not an mqtt target: ${target.name}`)
      let connection = connections.get(target.name)
      if (!connection) {
        connection = open(target, log)
        connections.set(target.name, connection)
      }
      const { link, client } = connection
      const topic = renderTemplate(target.topic, {
        session: delivery.whatsappId,
        action: delivery.action,
        target: target.name,
      })
      return confirmWithin('mqtt', target.timeoutMs, async (signal) => {
        await link.ready(signal)
        await client.publishAsync(topic, body, {
          qos: 1,
          properties: { contentType: 'application/json', userProperties: { ...metadata } },
        })
        return `topic "${topic}"`
      })
    },
    async close() {
      const closing = [...connections.values()].map(({ client }) => client.endAsync(true))
      connections.clear()
      await Promise.allSettled(closing)
    },
  }
}

function open(target: TargetOf<'mqtt'>, log: Logger): Connection {
  const link = createLink()
  const where = { target: target.name, broker: redactedUrl(target.url) }
  const client = connect(target.url, {
    protocolVersion: 5,
    clientId: `whatsgate-relay-${target.name}-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: Math.min(target.timeoutMs, 10_000),
  })
  let lastError: unknown = null
  let wasConnected = false
  client.on('connect', () => {
    link.up()
    wasConnected = true
    log.info(where, 'connected to the MQTT broker')
  })
  client.on('error', (error) => {
    lastError = error
    link.down(error)
  })
  // 'close' follows a lost connection and every failed reconnect.
  client.on('close', () => {
    link.down(lastError ?? new Error('connection closed'))
    // Closed by the relay itself (shutdown): nothing was lost, nothing reconnects.
    if (wasConnected && !client.disconnecting) {
      log.warn(
        { ...where, error: describeBrokerError('mqtt', lastError ?? 'closed') },
        'MQTT connection lost; reconnecting',
      )
    }
    wasConnected = false
    lastError = null
  })
  return { link, client }
}
