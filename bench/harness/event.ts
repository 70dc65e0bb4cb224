// WhatsGate `message` events as the webhook page shows them, built by concatenation: the load
// generator runs in one process and must not spend its core on JSON.stringify.

export const BENCH_SESSION = 'benchsession1'
const CHATS = 64

/** The chat of event `id`'s message: they cycle over 64. */
export const benchChat = (id: number) => `7999000${String(id % CHATS).padStart(4, '0')}@c.us`

/** Every id gives a distinct event (distinct key) and a distinct message. */
export function messageEventBody(id: number, whatsappId = BENCH_SESSION): string {
  const chat = benchChat(id)
  const messageId = id.toString(16).toUpperCase().padStart(20, '0')
  return (
    `{"id":${id},"whatsapp_id":"${whatsappId}","event_action":"message",` +
    `"event_date":"2022-09-07 18:29:37","status_code":null,"event_data":{"message":{` +
    `"_id":"${messageId}","id":"false_${chat}_${messageId}","ack":1,"hasMedia":false,"mediaKey":"",` +
    `"body":"benchmark message number ${id}","type":"chat","timestamp":1662575377,` +
    `"from":"${chat}","to":"79999999999@c.us","isForwarded":false}}}`
  )
}

/** The relay's event key, `<whatsapp_id>:<event_action>:<id>`, which it sends as `webhook-id`. */
export function eventKey(id: number, whatsappId = BENCH_SESSION): string {
  return `${whatsappId}:message:${id}`
}

export function idFromKey(key: string): number {
  return Number(key.slice(key.lastIndexOf(':') + 1))
}

/** Parses the `id` out of `{"result":"OK","id":N}` without a JSON parse per response. */
export function idFromAck(body: string): number {
  const match = /"id"\s*:\s*(\d+)/.exec(body)
  return match?.[1] ? Number(match[1]) : Number.NaN
}
