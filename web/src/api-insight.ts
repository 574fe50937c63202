// Insight: segments (saved member groups defined by conditions), the catalogue the segment
// builder offers choices from, member features and scores, the insight reports and the model
// fit. Every call goes through `request` in api.ts (CSRF header, Idempotency-Key, ApiError).
// The shapes are those of /work/briefs/s9/insight_contract.md; the reports are read through
// `reportTable`, which accepts a typed table ({columns, rows}) or a list of objects ({data}).
import { request, type Page } from './api'

// ---------- the segment language ----------

/** A predicate of the segment language (see the contract for the features and operators). */
export interface Predicate {
  feature: string
  op: string
  value?: number | string | boolean
  values?: (number | string)[]
  window_days?: number
}

/** A node of a segment definition. */
export type SegmentNode = { and: SegmentNode[] } | { or: SegmentNode[] } | { not: SegmentNode } | { segment: string } | Predicate

/** One member as segment lists and previews show them. */
export interface MemberSummary {
  id: string
  name: string | null
  phone: string | null
  phone_display?: string | null
  tier: string | { id: string; name: string } | null
  spend_minor: number
  orders: number
  last_order_at: string | null
  rfm_group: string | null
}

export interface Segment {
  id: string
  name: string
  definition: SegmentNode
  count: number
  created_at: string
  updated_at: string
}

export interface SegmentPreview {
  count: number
  sample: MemberSummary[]
}

/** A choice offered for a dictionary feature (a category, a branch, a tier…). */
export interface Choice {
  value: string
  label: string
}

/** One feature the server knows, as the catalogue lists it. */
export interface CatalogueFeature {
  name: string
  type: string
  ops: string[]
  window?: boolean
  values?: Choice[]
}

/** The catalogue, normalised: features by name and the known values by feature. */
export interface Catalogue {
  features: Map<string, CatalogueFeature>
  values: Map<string, Choice[]>
}

/** Keys a catalogue may list a feature's values under (singular feature name → its plurals). */
const VALUE_KEYS: Record<string, string[]> = {
  category: ['category', 'categories'],
  sku: ['sku', 'skus'],
  branch: ['branch', 'branches'],
  region: ['region', 'regions'],
  city: ['city', 'cities'],
  gender: ['gender', 'genders'],
  language: ['language', 'languages'],
  tier: ['tier', 'tiers'],
  rfm_group: ['rfm_group', 'rfm_groups'],
  tag: ['tag', 'tags'],
}

/** A value as the catalogue may give it: "x", {id, name}, {value, label}, {name, count}… */
function toChoice(v: unknown): Choice | null {
  if (typeof v === 'string' || typeof v === 'number') return { value: String(v), label: String(v) }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const value = o.value ?? o.id ?? o.code ?? o.name
    if (value === undefined || value === null) return null
    const label = o.label ?? o.name ?? o.value ?? o.id
    return { value: String(value), label: String(label) }
  }
  return null
}

function toChoices(v: unknown): Choice[] | undefined {
  if (!Array.isArray(v)) return undefined
  return v.map(toChoice).filter((c): c is Choice => c !== null)
}

/** Reads the catalogue's answer whatever its exact nesting (features as a list or a map). */
export function normaliseCatalogue(raw: unknown): Catalogue {
  const out: Catalogue = { features: new Map(), values: new Map() }
  if (!raw || typeof raw !== 'object') return out
  const r = raw as Record<string, unknown>
  const list: unknown[] = Array.isArray(r.features)
    ? r.features
    : r.features && typeof r.features === 'object'
      ? Object.entries(r.features as Record<string, unknown>).map(([name, f]) => ({ name, ...(f as object) }))
      : []
  for (const f of list) {
    if (!f || typeof f !== 'object') continue
    const o = f as Record<string, unknown>
    const name = String(o.name ?? o.feature ?? '')
    if (!name) continue
    const values = toChoices(o.values ?? o.choices)
    out.features.set(name, {
      name,
      type: String(o.type ?? ''),
      ops: Array.isArray(o.ops) ? o.ops.map(String) : [],
      window: Boolean(o.window ?? o.window_days ?? o.takes_window),
      values,
    })
    if (values) out.values.set(name, values)
  }
  const pools = [r, (r.values ?? {}) as Record<string, unknown>, (r.dictionaries ?? {}) as Record<string, unknown>]
  for (const [feature, keys] of Object.entries(VALUE_KEYS)) {
    if (out.values.has(feature)) continue
    for (const pool of pools)
      for (const k of keys) {
        const c = toChoices(pool[k])
        if (c && !out.values.has(feature)) out.values.set(feature, c)
      }
  }
  return out
}

// ---------- member features ----------

export interface MemberFeatures {
  orders: number
  spend_minor: number
  aov_minor: number | null
  first_order_at: string | null
  last_order_at: string | null
  days_since_last_order: number | null
  rfm: { r: number; f: number; m: number; group: string | null } | null
  p_alive: number | null
  expected_purchases_90d: number | null
  expected_value_minor: number | null
  currency: string
  model: { fitted_at: string; kind: string } | null
}

// ---------- reports ----------

export const INSIGHT_REPORTS = ['overview', 'cohorts', 'rfm', 'churn', 'tiers', 'branches'] as const
export type InsightReport = (typeof INSIGHT_REPORTS)[number]

export interface InsightQuery {
  from?: string
  to?: string
  branch_id?: string
  /** CSV only: a part of the report other than its main table (rfm: "groups"). */
  table?: string
}

export interface ReportColumn {
  name: string
  type: string
}

/** A report as a table: its columns (in order) and its rows keyed by column name. */
export interface ReportTable {
  columns: ReportColumn[]
  rows: Record<string, unknown>[]
  /** Everything else the answer carried (totals, groups, flags such as `model`). */
  extra: Record<string, unknown>
}

function toColumns(cols: unknown): ReportColumn[] {
  if (!Array.isArray(cols)) return []
  return cols.map((c) =>
    typeof c === 'string' ? { name: c, type: '' } : { name: String((c as Record<string, unknown>).name ?? (c as Record<string, unknown>).key ?? ''), type: String((c as Record<string, unknown>).type ?? '') },
  )
}

/** One table out of a report answer: {columns, rows:[[…]]}, {columns, rows:[{…}]} or {data:[{…}]}. */
export function toTable(raw: unknown): ReportTable {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  let columns = toColumns(r.columns)
  const src = (Array.isArray(r.rows) ? r.rows : Array.isArray(r.data) ? r.data : []) as unknown[]
  const rows = src.map((row) => {
    if (Array.isArray(row)) return Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))
    return (row ?? {}) as Record<string, unknown>
  })
  if (!columns.length && rows.length) columns = Object.keys(rows[0]!).map((name) => ({ name, type: '' }))
  const extra = Object.fromEntries(Object.entries(r).filter(([k]) => !['columns', 'rows', 'data', 'tables'].includes(k)))
  return { columns, rows, extra }
}

/**
 * A report's tables: `main` (the report: `columns` + `data` at the top level) and its parts
 * under their names (`tables: {groups: {columns, data}}` for rfm; a list of named tables too).
 */
export function reportTables(raw: unknown): Record<string, ReportTable> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  const out: Record<string, ReportTable> = { main: toTable(raw) }
  const parts = r.tables
  if (Array.isArray(parts)) {
    parts.forEach((t, i) => (out[String((t as Record<string, unknown>)?.name ?? `part${i}`)] = toTable(t)))
  } else if (parts && typeof parts === 'object') {
    for (const [k, v] of Object.entries(parts as Record<string, unknown>)) out[k] = toTable(v)
  }
  return out
}

export interface FitResult {
  [k: string]: unknown
}

// ---------- calls ----------

const enc = encodeURIComponent

function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** The address of a report download: `csv` or `xlsx` (the server answers an attachment). */
export function insightReportUrl(name: InsightReport, format: 'csv' | 'xlsx', q: InsightQuery = {}): string {
  return `/api/v1/reports/${enc(name)}` + qs({ ...q, format })
}

export const insightApi = {
  catalogue: async () => normaliseCatalogue(await request<unknown>('GET', '/api/v1/insight/catalogue')),
  segments: async () => {
    const out: Segment[] = []
    let cursor: string | null = null
    for (let i = 0; i < 20; i++) {
      const page: Page<Segment> = await request<Page<Segment>>('GET', '/api/v1/segments' + qs({ limit: 200, cursor }))
      out.push(...page.data)
      if (!page.next_cursor) break
      cursor = page.next_cursor
    }
    return out
  },
  segment: (id: string) => request<Segment>('GET', `/api/v1/segments/${enc(id)}`),
  createSegment: (input: { name: string; definition: SegmentNode }) => request<Segment>('POST', '/api/v1/segments', input),
  updateSegment: (id: string, input: { name?: string; definition?: SegmentNode }) => request<Segment>('PATCH', `/api/v1/segments/${enc(id)}`, input),
  deleteSegment: (id: string) => request<void>('DELETE', `/api/v1/segments/${enc(id)}`),
  preview: (definition: SegmentNode) => request<SegmentPreview>('POST', '/api/v1/segments/preview', { definition }),
  members: (id: string, cursor: string | null, limit = 50) =>
    request<Page<MemberSummary>>('GET', `/api/v1/segments/${enc(id)}/members` + qs({ limit, cursor })),
  memberFeatures: (memberId: string) => request<MemberFeatures>('GET', `/api/v1/members/${enc(memberId)}/features`),
  report: (name: InsightReport, q: InsightQuery = {}) => request<unknown>('GET', `/api/v1/reports/${enc(name)}` + qs({ ...q })),
  fit: () => request<FitResult>('POST', '/api/v1/insight/fit', {}),
}
