// Routing templates of the broker kinds (`whatsgate.{session}.{action}`): checked at start, filled
// at each send. A substituted value never adds structure to the name: every character but
// letters, digits, `_` and `-` becomes `_`, which is safe for each kind at once (no `.` to split an
// AMQP routing key or a NATS subject, no `*`/`>` NATS wildcards, no `/`/`+`/`#` in an MQTT level,
// no whitespace anywhere). WhatsGate's session ids and actions are of that alphabet already.

export const TEMPLATE_FIELDS = ['session', 'action', 'target'] as const
export type TemplateValues = Record<(typeof TEMPLATE_FIELDS)[number], string>

const PLACEHOLDER = /\{([^{}]*)\}/g
const UNSAFE = /[^A-Za-z0-9_-]/g

/** What is wrong with a template, or null: an unknown `{name}` or a stray brace. */
export function templateProblem(template: string): string | null {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(name ?? '')) {
      return `unknown placeholder {${name}} (use ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')})`
    }
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) return 'has an unmatched "{" or "}"'
  return null
}

/** The template as it looks with every placeholder filled: for checking its literal parts. */
export function sampleOf(template: string): string {
  return template.replace(PLACEHOLDER, 'x')
}

/** One value as a template carries it; an empty one becomes `_` (a NATS token cannot be empty). */
export function safeValue(value: string): string {
  return value.replace(UNSAFE, '_') || '_'
}

export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (_all, name: keyof TemplateValues) => safeValue(values[name]))
}
