// WhatsGate-shaped events for tests, built the way the webhook page shows them.

export interface EventOptions {
  id: number | string
  action?: string
  whatsappId?: string
  /** The chat jid; message events carry it in their message id. */
  chat?: string
  text?: string
}

export function wgEvent({
  id,
  action = 'message',
  whatsappId = '191b80a9238',
  chat = '79991112233@c.us',
  text = 'hi',
}: EventOptions) {
  const messageActions = ['message', 'sent', 'ack', 'create']
  const eventData = messageActions.includes(action)
    ? {
        message: {
          _id: `3EB0${id}`,
          id: `false_${chat}_3EB0${id}`,
          ack: 1,
          hasMedia: false,
          mediaKey: '',
          body: text,
          type: 'chat',
          timestamp: 1662575377,
          from: chat,
          to: '79999999999@c.us',
          isForwarded: false,
        },
      }
    : { reason: 'test' }
  return JSON.stringify({
    id,
    whatsapp_id: whatsappId,
    event_action: action,
    event_date: '2022-09-07 18:29:37',
    status_code: null,
    event_data: eventData,
  })
}

/** Polls until `check` returns true; fails with `what` after timeoutMs. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * A session event (no message) as WhatsGate sends it: a disconnect with its reason, a ready with
 * the account's name, or `data` as given.
 */
export function sessionEvent(
  id: number,
  action: string,
  whatsappId: string,
  data: object = action === 'disconnect'
    ? { reason: 'Logged out' }
    : action === 'ready'
      ? { pushname: 'Shop' }
      : {},
): string {
  return JSON.stringify({
    id,
    whatsapp_id: whatsappId,
    event_action: action,
    event_date: '2026-12-07 06:00:00',
    status_code: null,
    event_data: data,
  })
}
