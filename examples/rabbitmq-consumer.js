// docker-compose.yml's rabbitmq profile: declares the topic exchange "whatsgate", binds a queue to
// every routing key and prints each message (routing key, metadata, body) as it arrives. Runs in
// the relay's image, with the relay's own amqplib.
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const amqp = createRequire('/app/package.json')('amqplib')
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@rabbitmq:5672'

async function connect() {
  // RabbitMQ takes a while to start: try again until it answers.
  for (;;) {
    try {
      return await amqp.connect(url)
    } catch (error) {
      console.error(`waiting for RabbitMQ: ${error.message}`)
      await sleep(2000)
    }
  }
}

const connection = await connect()
const channel = await connection.createChannel()
await channel.assertExchange('whatsgate', 'topic', { durable: true })
const { queue } = await channel.assertQueue('whatsgate-print', { durable: true })
await channel.bindQueue(queue, 'whatsgate', '#')
console.log('consuming whatsgate.# from the exchange "whatsgate"')
await channel.consume(queue, (message) => {
  if (message === null) return
  const { messageId, type, headers } = message.properties
  console.log(JSON.stringify({ routingKey: message.fields.routingKey, messageId, type, headers }))
  console.log(message.content.toString())
  channel.ack(message)
})
