// The http kind: the request's headers (the target's own, the relay's, CloudEvents, the Standard
// Webhooks signature) around the undici client of http-sender.ts. A 2xx is the confirmation.
import { cloudEventHeaders } from '../cloudevents.ts'
import type { HttpSender } from '../http-sender.ts'
import type { Sender } from '../sender.ts'
import { signWebhook } from '../standard-webhooks.ts'

export function createHttpTargetSender(http: HttpSender): Sender {
  return {
    async send(target, { delivery, body, timestamp, metadata }) {
      // The target's own first: the relay's cannot be overridden (targets.ts refuses them anyway).
      const headers: Record<string, string> = {
        ...target.headers,
        ...metadata,
        ...(target.format === 'cloudevents' ? cloudEventHeaders(delivery) : {}),
      }
      if (target.secrets.length > 0) {
        headers['webhook-signature'] = signWebhook({
          secrets: target.secrets,
          id: metadata['webhook-id'] ?? '',
          timestamp,
          body,
        })
      }
      const result = await http.send({ url: target.url, headers, body, timeoutMs: target.timeoutMs })
      const ok = result.status !== null && result.status >= 200 && result.status < 300
      return { ...result, ok }
    },
    close: () => http.close(),
  }
}
