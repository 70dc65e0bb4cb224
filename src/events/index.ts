export { eventDateOf, isWallClock, subtractSeconds, wallClock } from './dates.ts'
export {
  chatOf,
  chatOfFilter,
  type EventIssue,
  eventKey,
  type IncomingEvent,
  isObject,
  messageIdOf,
  messageOf,
  messageTextOf,
  type ParseResult,
  parseEvent,
  readJsonBody,
} from './parse.ts'
export { partiesOf, partyOf } from './parties.ts'
export * from './schemas.ts'
