// The segment builder's model: what each feature of the segment language takes (operators,
// kind of value, a time window), the editable tree of rows and groups, and the two conversions
// between that tree and a definition (see insight_contract.md, "The segment language").
//
// compile() records the path of every row and group in the definition it writes
// ("definition.and[1]", "definition.and[1].not"), so a server error naming a field
// ("definition.and[1].op") can be shown on the row it is about (rowForField).
import type { Predicate, SegmentNode } from '../../api-insight'
import { minorPerMajor, moneyInput, parseMoney } from '../../format'

/** How a feature's value is entered. */
export type ValueKind = 'count' | 'money' | 'days' | 'percent' | 'decimal' | 'set' | 'string' | 'bool' | 'birthday' | 'calendar' | 'segment'

export interface FeatureSpec {
  name: string
  kind: ValueKind
  ops: string[]
  /** Takes "in the last N days". */
  window?: boolean
  /** Word written after the number ("days", "times"): an i18n key under insight.units. */
  unit?: string
}

const NUM = ['>', '>=', '<', '<=', '=', '!=', 'between']
const SET = ['in', 'all', 'none']
const STR = ['in', 'not_in']

/** The features in the order the builder offers them (grouped as shop owners think of them). */
export const FEATURES: FeatureSpec[] = [
  { name: 'spend_minor', kind: 'money', ops: NUM, window: true },
  { name: 'orders', kind: 'count', ops: NUM, window: true, unit: 'times' },
  { name: 'aov_minor', kind: 'money', ops: NUM, window: true },
  { name: 'days_since_last_order', kind: 'days', ops: NUM, unit: 'days' },
  { name: 'days_since_first_order', kind: 'days', ops: NUM, unit: 'daysAgo' },
  { name: 'days_since_joined', kind: 'days', ops: NUM, unit: 'daysAgo' },
  { name: 'category', kind: 'set', ops: SET, window: true },
  { name: 'sku', kind: 'set', ops: SET, window: true },
  { name: 'branch', kind: 'set', ops: SET, window: true },
  { name: 'weekday', kind: 'calendar', ops: ['in'], window: true },
  { name: 'day_of_month', kind: 'calendar', ops: ['in'], window: true },
  { name: 'birthday', kind: 'birthday', ops: ['in_next_days', 'month_in'] },
  { name: 'tier', kind: 'string', ops: STR },
  { name: 'tier_rank', kind: 'count', ops: NUM },
  { name: 'points', kind: 'count', ops: NUM },
  { name: 'wallet_minor', kind: 'money', ops: NUM },
  { name: 'rfm_group', kind: 'string', ops: STR },
  { name: 'p_alive', kind: 'percent', ops: NUM },
  { name: 'expected_purchases_90d', kind: 'decimal', ops: NUM, unit: 'times' },
  { name: 'expected_value_minor', kind: 'money', ops: NUM },
  { name: 'tag', kind: 'set', ops: SET },
  { name: 'region', kind: 'string', ops: STR },
  { name: 'city', kind: 'string', ops: STR },
  { name: 'gender', kind: 'string', ops: STR },
  { name: 'language', kind: 'string', ops: STR },
  { name: 'consent_sms', kind: 'bool', ops: ['='] },
  { name: 'consent_email', kind: 'bool', ops: ['='] },
  { name: 'consent_line', kind: 'bool', ops: ['='] },
  { name: 'segment', kind: 'segment', ops: ['in'] },
]

export const FEATURE_BY_NAME = new Map(FEATURES.map((f) => [f.name, f]))

/** An operator's i18n key (symbols do not make good message keys). */
export const OP_KEY: Record<string, string> = {
  '=': 'eq',
  '!=': 'ne',
  '>': 'gt',
  '>=': 'ge',
  '<': 'lt',
  '<=': 'le',
  between: 'between',
  in: 'in',
  all: 'all',
  none: 'none',
  not_in: 'notIn',
  in_next_days: 'inNextDays',
  month_in: 'monthIn',
}

export const RFM_GROUPS = [
  'champions',
  'loyal',
  'potential_loyalist',
  'new_customers',
  'promising',
  'need_attention',
  'about_to_sleep',
  'at_risk',
  'cant_lose',
  'hibernating',
  'lost',
] as const

export interface Row {
  kind: 'row'
  uid: number
  feature: string
  op: string
  /** The first (or only) number as typed; for `bool`, "true" / "false". */
  a: string
  /** The upper bound of `between`, as typed. */
  b: string
  /** Chosen values of set, string, calendar, month and segment features. */
  picks: string[]
  /** "In the last N days", as typed; blank = all time. */
  windowDays: string
  negate: boolean
}

export interface Group {
  kind: 'group'
  uid: number
  op: 'and' | 'or'
  negate: boolean
  children: Node[]
}

export type Node = Row | Group

let nextUid = 1
export function newRow(feature = 'spend_minor'): Row {
  const spec = FEATURE_BY_NAME.get(feature) ?? FEATURES[0]!
  return { kind: 'row', uid: nextUid++, feature: spec.name, op: spec.ops[0]!, a: spec.kind === 'bool' ? 'true' : '', b: '', picks: [], windowDays: '', negate: false }
}
export function newGroup(op: 'and' | 'or' = 'and', children: Node[] = []): Group {
  return { kind: 'group', uid: nextUid++, op, negate: false, children }
}

/** Changes a row's feature, keeping what still fits (the operator if the new feature has it). */
export function setFeature(row: Row, feature: string): void {
  const old = FEATURE_BY_NAME.get(row.feature)
  const spec = FEATURE_BY_NAME.get(feature)
  if (!spec) return
  row.feature = feature
  if (!spec.ops.includes(row.op)) row.op = spec.ops[0]!
  if (old?.kind !== spec.kind) {
    row.a = spec.kind === 'bool' ? 'true' : ''
    row.b = ''
    row.picks = []
  } else if (!['count', 'money', 'days', 'percent', 'decimal'].includes(spec.kind)) row.picks = []
  if (!spec.window) row.windowDays = ''
}

/** A problem found before asking the server: an i18n key under insight.builder.problems. */
export type Problem = 'number' | 'range' | 'pick' | 'empty' | 'window'

export interface Compiled {
  definition: SegmentNode
  /** uid → the path of its node in the definition ("definition.or[0]"). */
  paths: Map<number, string>
  problems: Map<number, Problem>
}

function num(kind: ValueKind, text: string): number | null {
  const s = text.trim()
  if (!s) return null
  if (kind === 'money') return parseMoney(s)
  const n = Number(s.replace(/[,，\s]/g, ''))
  if (!Number.isFinite(n)) return null
  if (kind === 'percent') return n >= 0 && n <= 100 ? Math.round(n * 100) / 10000 : null
  if (kind === 'decimal') return n
  return Number.isInteger(n) ? n : null
}

function compileRow(r: Row, problems: Map<number, Problem>): SegmentNode {
  const spec = FEATURE_BY_NAME.get(r.feature)!
  if (spec.kind === 'segment') {
    if (!r.picks[0]) problems.set(r.uid, 'pick')
    return { segment: r.picks[0] ?? '' }
  }
  const p: Predicate = { feature: r.feature, op: r.op }
  switch (spec.kind) {
    case 'bool':
      p.value = r.a !== 'false'
      break
    case 'set':
    case 'string':
    case 'calendar':
      p.values = spec.kind === 'calendar' ? r.picks.map(Number) : [...r.picks]
      if (!r.picks.length) problems.set(r.uid, 'pick')
      break
    case 'birthday':
      if (r.op === 'month_in') {
        p.values = r.picks.map(Number)
        if (!r.picks.length) problems.set(r.uid, 'pick')
      } else {
        const n = num('days', r.a)
        if (n === null) problems.set(r.uid, 'number')
        p.value = n ?? 0
      }
      break
    default: {
      const a = num(spec.kind, r.a)
      if (r.op === 'between') {
        const b = num(spec.kind, r.b)
        if (a === null || b === null) problems.set(r.uid, 'number')
        else if (a > b) problems.set(r.uid, 'range')
        p.values = [a ?? 0, b ?? 0]
      } else {
        if (a === null) problems.set(r.uid, 'number')
        p.value = a ?? 0
      }
    }
  }
  if (spec.window && r.windowDays.trim()) {
    const w = Number(r.windowDays.trim())
    if (!Number.isInteger(w) || w < 1 || w > 3650) problems.set(r.uid, 'window')
    p.window_days = w
  }
  return p
}

/** The definition a tree stands for, with the path of each row and the problems found. */
export function compile(root: Group): Compiled {
  const paths = new Map<number, string>()
  const problems = new Map<number, Problem>()
  const walk = (n: Node, path: string): SegmentNode => {
    const inner = n.negate ? `${path}.not` : path
    paths.set(n.uid, inner)
    let node: SegmentNode
    if (n.kind === 'row') node = compileRow(n, problems)
    else {
      if (!n.children.length) problems.set(n.uid, 'empty')
      const kids = n.children.map((c, i) => walk(c, `${inner}.${n.op}[${i}]`))
      node = n.op === 'and' ? { and: kids } : { or: kids }
    }
    return n.negate ? { not: node } : node
  }
  return { definition: walk(root, 'definition'), paths, problems }
}

/** The row or group a server error's field is about: the longest path the field starts with. */
export function nodeForField(c: Compiled, field: string | null): number | null {
  if (!field) return null
  let best: number | null = null
  let bestLen = -1
  for (const [uid, path] of c.paths) {
    const hit = field === path || field.startsWith(path + '.') || field.startsWith(path + '[')
    if (hit && path.length > bestLen) {
      best = uid
      bestLen = path.length
    }
  }
  return best
}

function rowFrom(p: Predicate, negate: boolean): Row {
  const r = newRow(FEATURE_BY_NAME.has(p.feature) ? p.feature : 'spend_minor')
  const spec = FEATURE_BY_NAME.get(r.feature)!
  r.op = p.op
  r.negate = negate
  const show = (v: unknown): string => {
    if (typeof v !== 'number') return v === undefined || v === null ? '' : String(v)
    if (spec.kind === 'money') return moneyInput(v)
    if (spec.kind === 'percent') return String(Math.round(v * 10000) / 100)
    return String(v)
  }
  if (spec.kind === 'bool') r.a = p.value === false ? 'false' : 'true'
  else if (['set', 'string', 'calendar'].includes(spec.kind) || (spec.kind === 'birthday' && p.op === 'month_in')) r.picks = (p.values ?? []).map(String)
  else if (p.op === 'between') {
    r.a = show(p.values?.[0])
    r.b = show(p.values?.[1])
  } else r.a = show(p.value)
  if (p.window_days !== undefined) r.windowDays = String(p.window_days)
  return r
}

function nodeFrom(n: SegmentNode, negate = false): Node {
  if ('not' in n) return nodeFrom(n.not, !negate)
  if ('and' in n || 'or' in n) {
    const op = 'and' in n ? 'and' : 'or'
    const g = newGroup(op, ((n as Record<string, SegmentNode[]>)[op] ?? []).map((c) => nodeFrom(c)))
    g.negate = negate
    return g
  }
  if ('segment' in n) {
    const r = newRow('segment')
    r.picks = [String(n.segment)]
    r.negate = negate
    return r
  }
  return rowFrom(n as Predicate, negate)
}

/** The editable tree of a saved definition (a lone condition becomes a group of one). */
export function fromDefinition(d: SegmentNode): Group {
  const n = nodeFrom(d)
  return n.kind === 'group' ? n : newGroup('and', [n])
}

/** Ready-made starting points (money in the merchant's minor units). */
export function presets(): { key: string; definition: SegmentNode }[] {
  const per = minorPerMajor()
  return [
    {
      key: 'slipping',
      definition: {
        and: [
          { feature: 'spend_minor', op: '>', value: 5000 * per, window_days: 365 },
          { feature: 'days_since_last_order', op: '>=', value: 60 },
        ],
      },
    },
    { key: 'birthdayWeek', definition: { and: [{ feature: 'birthday', op: 'in_next_days', value: 7 }] } },
    { key: 'newMonth', definition: { and: [{ feature: 'days_since_joined', op: '<=', value: 30 }] } },
  ]
}
