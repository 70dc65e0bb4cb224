// GET /admin/events?party=: events found by who they are between, read once at accept
// (events/parties.ts) from bodies posted over HTTP to a real relay: the chat, the sender, the
// recipient, a group's author and the participant its message id names; a body whose fields are
// not text is stored and found by what it has. A value that is neither a number nor a jid is a 400.
import { describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startRelay } from '../cli/admin-relay.ts'
import { TEST_TOKEN } from '../support/relay.ts'

const GROUP = '120363025246125888@g.us'

function messageEvent(id: number, message: Record<string, unknown>) {
  return JSON.stringify({
    id,
    whatsapp_id: '191b80a9238',
    event_action: 'message',
    event_date: '2022-09-07 18:29:37',
    event_data: { message: { _id: `3EB0${id}`, body: 'hello', type: 'chat', ...message } },
  })
}

const EVENTS = [
  // A group message: from the group, its author a member; the id names the participant.
  messageEvent(1, {
    id: `false_${GROUP}_3EB01_79994445566@c.us`,
    from: GROUP,
    to: '79999999999@c.us',
    author: '79994445566@c.us',
  }),
  // A group message whose id names a participant of its own, without an author.
  messageEvent(2, { id: `false_${GROUP}_3EB02_79997778899@c.us`, from: GROUP, to: '79999999999@c.us' }),
  // Not as documented: from is a number, to missing; stored and found by its chat.
  messageEvent(3, { id: 'false_79993332211@c.us_3EB03', from: 79993332211 }),
]

describe('GET /admin/events?party=', () => {
  it('finds group messages by the group, the author and the participant, and odd bodies by their chat', async () => {
    const relay = await startRelay([{ name: 'bot' }])
    for (const body of EVENTS) {
      const answer = await fetch(`${relay.url}/webhook/${TEST_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      expect(answer.status).toBe(200)
    }
    const search = async (party: string) => {
      const answer = await fetch(`${relay.url}/admin/events?${new URLSearchParams({ party })}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      return { status: answer.status, body: (await answer.json()) as { events?: { eventId: string }[] } }
    }
    const ids = async (party: string) => (await search(party)).body.events?.map((event) => event.eventId)

    // Newest first.
    expect(await ids(GROUP)).toEqual(['2', '1'])
    expect(await ids('+7 (999) 444-55-66')).toEqual(['1'])
    expect(await ids('79997778899@c.us')).toEqual(['2'])
    expect(await ids('79999999999')).toEqual(['2', '1'])
    expect(await ids('+7 999 333 22 11')).toEqual(['3'])
    // The chat filter still means the chat only.
    const byChat = await fetch(`${relay.url}/admin/events?chat=79994445566`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(((await byChat.json()) as { events: unknown[] }).events).toEqual([])

    for (const party of ['a name', '+', 'x'.repeat(129)]) {
      const { status, body } = await search(party)
      expect(status, party).toBe(400)
      expect(JSON.stringify(body), party).toContain('party')
    }
  })
})
