export { type EventIssue, eventKey, messageIdOf, type ParseResult, parseEvent } from './parse.ts'
export * from './schemas.ts'
