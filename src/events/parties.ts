// Who a message-bearing event is between, for the operator's search by phone number or jid: the
// chat and the group participant its message id names, and the message's from, to and author.
// WhatsGate's own example files a message from 79991112233 under the chat 79999999999 (the id's),
// so the chat alone does not find it by its sender. Each party is kept as partyOf writes it, so
// that any written form of a number finds it.
import { messageOf } from './parse.ts'

// A one-to-one jid is its number; the store's migration (store/sqlite-schema.ts) writes stored
// chats the same way, so this and it must agree.
const ONE_TO_ONE = /^(\d{1,64})@c\.us$/
// A number as people write it: `+7 999 111-22-33`, `8 (999) 111.22.33`.
const WRITTEN_NUMBER = /^\+?[\d\s().-]+$/
// `<fromMe>_<chat jid>_<id>_<participant jid>` in a group (events/parse.ts chatOf).
const PARTICIPANT_IN_MESSAGE_ID = /^(?:true|false)_[^_]+_[^_]+_([^_]+)$/

/**
 * A phone number (in any written form) or a jid as the store keeps a party: a number or a
 * one-to-one jid as its digits, any other jid (a group's `…@g.us`) as it is. Null for what is
 * neither, and for what could not be indexed (over 128 characters, a NUL: see chatOf).
 */
export function partyOf(value: string): string | null {
  const text = value.trim()
  if (text.length === 0 || text.length > 128 || text.includes('\0')) return null
  if (text.includes('@')) return ONE_TO_ONE.exec(text)?.[1] ?? text
  if (!WRITTEN_NUMBER.test(text)) return null
  const digits = text.replace(/\D/g, '')
  return digits.length > 0 ? digits : null
}

/**
 * The parties of an event, each once; none for session events. `chat` is the event's chatOf,
 * which the acceptor has read already. Never throws, whatever the body: a field that is not text
 * is left out.
 */
export function partiesOf(event: unknown, chat: string | null): string[] {
  const message = messageOf(event)
  if (message === null) return []
  const { id, from, to, author } = message
  const participant = typeof id === 'string' ? PARTICIPANT_IN_MESSAGE_ID.exec(id)?.[1] : undefined
  const parties: string[] = []
  for (const value of [chat, participant, from, to, author]) {
    if (typeof value !== 'string') continue
    const party = partyOf(value)
    if (party !== null && !parties.includes(party)) parties.push(party)
  }
  return parties
}

/**
 * The party whose rows find a chat's events: a chat is always one of its events' parties
 * (partiesOf), so the party index serves a chat filter too and the events need no chat index of
 * their own. Null for a chat partyOf cannot keep (neither a jid nor a number): its events are then
 * looked for one by one.
 */
export function chatParty(chatJid: string): string | null {
  return partyOf(chatJid)
}

/** The parties an event is stored under: its own, and its chat's always among them (chatParty). */
export function storedParties(parties: readonly string[], chat: string | null): readonly string[] {
  const ofChat = chat === null ? null : chatParty(chat)
  return ofChat === null || parties.includes(ofChat) ? parties : [ofChat, ...parties]
}
