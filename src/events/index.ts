export { eventDateOf, isWallClock, subtractSeconds, wallClock } from './dates.ts'
export {
  type EventIssue,
  eventKey,
  type IncomingEvent,
  messageIdOf,
  messageTextOf,
  type ParseResult,
  parseEvent,
} from './parse.ts'
export * from './schemas.ts'
