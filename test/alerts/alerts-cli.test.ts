// `whatsgate-relay alerts` over the admin API of a real relay on a real port: what is open, each
// channel, and --test queuing a test message that reaches a local Slack-shaped sink.
import { describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, eventually, json, startRelay } from '../cli/admin-relay.ts'
import { startSink } from '../support/sink.ts'

describe('whatsgate-relay alerts', () => {
  it('lists open alerts and channels, and --test sends a test message to each channel', async () => {
    const slack = await startSink()
    try {
      const relay = await startRelay([], {
        ADMIN_TOKEN,
        ALERTS: JSON.stringify([
          { name: 'team', format: 'slack', url: `${slack.url}/services/T/B/SECRETPATH` },
        ]),
        ALERT_GROUP_SECONDS: '0',
      })
      const none = await relay.cli(['alerts'])
      expect(none.code).toBe(0)
      expect(none.out[0]).toBe('no alert open')
      expect(none.out).toContain(`channel team (slack) to ${slack.url}`)
      expect(none.stdout).not.toContain('SECRETPATH')

      await relay.post(
        JSON.stringify({
          id: 5,
          whatsapp_id: 'shop-7',
          event_action: 'disconnect',
          event_date: '2026-12-07 06:00:00',
          status_code: null,
          event_data: { reason: 'Logged out' },
        }),
      )
      await eventually(
        async () => json<{ open: unknown[] }>(await relay.cli(['alerts', '--json'])).open.length === 1,
        'the disconnect to open an alert',
      )
      const open = await relay.cli(['alerts'])
      expect(open.out[0]).toBe('open (1):')
      expect(open.out[1]).toMatch(/^ {2}session\.disconnected shop-7: reason "Logged out" \(opened \S+/)
      expect(open.out).toContain('sessions: 0 ok of 1')
      expect(open.out.find((line) => line.startsWith('  shop-7 '))).toMatch(
        /^ {2}shop-7 disconnected \(last event \S+\)$/,
      )

      const before = slack.requests.length
      const test = await relay.cli(['alerts', '--test'])
      expect(test.code).toBe(0)
      expect(test.out[0]).toMatch(/^a test message queued for each of 1 channel/)
      await eventually(
        async () => slack.requests.slice(before).some((r) => r.body.toString().includes('test alert')),
        'the test message',
      )
      expect((await relay.cli(['alerts', '--bogus'])).code).toBe(2)
    } finally {
      await slack.close()
    }
  })
})
