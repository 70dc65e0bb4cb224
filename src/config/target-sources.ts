// Where the targets come from: TARGETS (JSON) or TARGETS_FILE (JSON or YAML), one of the two, and
// FORWARD_URL beside either as one more target named `default` (the quick way to a first target,
// kept when compose's TARGETS_FILE or a list is added later). This reads and parses the sources;
// each target is checked by delivery's createTarget.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import type { YAMLError } from 'yaml'
import { createTarget, type Target, TargetConfigError } from '../delivery/targets.ts'

export interface TargetSources {
  forwardUrl?: string | undefined
  targets?: string | undefined
  targetsFile?: string | undefined
}

/** The name FORWARD_URL's target takes. */
export const FORWARD_TARGET = 'default'

/** Reads the configured sources into targets; none configured = no targets. */
export function loadTargets(source: TargetSources, warn: (msg: string) => void): Target[] {
  // An empty variable (`TARGETS=` in a copied .env) means unset, not "an empty source".
  const forwardUrl = source.forwardUrl?.trim() || undefined
  const targets = source.targets?.trim() || undefined
  const targetsFile = source.targetsFile?.trim() || undefined
  if (targets && targetsFile) {
    throw new TargetConfigError('set only one of TARGETS or TARGETS_FILE (FORWARD_URL may go with either)')
  }
  const listed = targets
    ? fromArray(parseJson(targets, 'TARGETS'), 'TARGETS', warn)
    : targetsFile
      ? fromArray(readTargetsFile(targetsFile, warn), 'TARGETS_FILE', warn)
      : []
  if (!forwardUrl) return listed
  const label = targets ? 'TARGETS' : 'TARGETS_FILE'
  if (listed.some((target) => target.name === FORWARD_TARGET)) {
    throw new TargetConfigError(
      `FORWARD_URL makes a target named "${FORWARD_TARGET}", and ${label} has one by that name too: rename it, or move FORWARD_URL into ${label}`,
    )
  }
  const forward = createTarget({ name: FORWARD_TARGET, url: forwardUrl, events: ['*'] }, 'FORWARD_URL', warn)
  return [forward, ...listed]
}

function fromArray(raw: unknown, label: string, warn: (msg: string) => void): Target[] {
  if (!Array.isArray(raw)) throw new TargetConfigError(`${label} must be an array of targets`)
  const seen = new Set<string>()
  return raw.map((item: unknown, index) => {
    const name = typeof item === 'object' && item !== null && 'name' in item ? item.name : undefined
    const itemLabel =
      typeof name === 'string' ? `${label}[${index}] (${JSON.stringify(name)})` : `${label}[${index}]`
    const target = createTarget(item, itemLabel, warn)
    if (seen.has(target.name))
      throw new TargetConfigError(`${itemLabel}.name: "${target.name}" is the name of an earlier target`)
    seen.add(target.name)
    return target
  })
}

// Parse errors say where and what, never quote the text: targets hold authorization headers and
// secrets, and start-up errors end up in logs. JSON.parse's and yaml's own messages quote it.

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new TargetConfigError(`${label} is not valid JSON: ${describeJsonError(error)}`)
  }
}

function readTargetsFile(path: string, warn: (msg: string) => void): unknown {
  const extension = extname(path).toLowerCase()
  if (!['.json', '.yaml', '.yml'].includes(extension)) {
    throw new TargetConfigError(`TARGETS_FILE must end in .json, .yaml or .yml: ${path}`)
  }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new TargetConfigError(`TARGETS_FILE cannot be read: ${(error as Error).message}`)
  }
  if (extension === '.json') return parseJson(text, `TARGETS_FILE ${path}`)
  // Loaded only for a YAML file: the parser is 70 modules a relay configured otherwise never needs.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  const document = parseDocument(text)
  const [error] = document.errors
  if (error)
    throw new TargetConfigError(`TARGETS_FILE ${path} is not valid YAML: ${describeYamlError(error)}`)
  for (const warning of document.warnings) warn(`TARGETS_FILE ${path}: ${describeYamlError(warning)}`)
  try {
    return document.toJS()
  } catch {
    // Only aliases fail here (unresolved, or too many), and yaml's message quotes the alias name.
    throw new TargetConfigError(`TARGETS_FILE ${path} is not valid YAML: an alias (*name) cannot be resolved`)
  }
}

/** "bad indent at line 3, column 5": yaml's code for the kind, its position, no code frame. */
function describeYamlError(error: YAMLError): string {
  const kind = error.code.toLowerCase().replaceAll('_', ' ')
  const position = error.linePos?.[0]
  return position
    ? `${kind} at line ${position.line}, column ${position.col}`
    : `${kind} at offset ${error.pos[0]}`
}

/**
 * What is wrong with text that JSON.parse refused, and where. V8 says both ("Expected ',' or ']'
 * after array element in JSON at position 4 (line 1 column 5)"), except for an unexpected token,
 * where it quotes the text around it instead: that form is told without the quote.
 */
function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : ''
  const located = /^(.+?)(?: in JSON)? at position \d+ \(line (\d+) column (\d+)\)/.exec(message)
  if (located) return `${located[1]} at line ${located[2]}, column ${located[3]}`
  if (message.startsWith('Unexpected end of JSON input')) return 'unexpected end of input'
  return 'unexpected character (check quotes, commas and brackets)'
}
