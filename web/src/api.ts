// The console's HTTP client: one place for fetch, the CSRF header, idempotency
// keys and error parsing. See docs/console-api.md for the contract.

export type Role = 'owner' | 'manager' | 'cashier'
export type Channel = 'sms' | 'email' | 'line'
export const CHANNELS: readonly Channel[] = ['sms', 'email', 'line'] as const
export const ROLES: readonly Role[] = ['owner', 'manager', 'cashier'] as const

export interface Staff {
  id: string
  name: string
  email: string
  role: Role
  branch_ids: string[]
  active: boolean
  created_at: string
}

export interface Merchant {
  id: string
  name: string
  region: string
  currency: string
  timezone: string
  language: string
}

export interface Session {
  staff: Staff
  merchant: Merchant
  csrf_token: string
}

export interface ConsentRecord {
  granted: boolean
  changed_at: string
  source: string | null
  branch_id: string | null
  staff_id: string | null
}

export interface Member {
  id: string
  phone: string | null
  phone_display: string | null
  name: string | null
  email: string | null
  birthday: string | null
  gender: string | null
  region: string | null
  city: string | null
  tags: string[]
  attributes: Record<string, unknown>
  notes: string | null
  language: string | null
  consent: Partial<Record<Channel, ConsentRecord | null>>
  referral_code: string | null
  erased: boolean
  merged_into: string | null
  created_at: string
  updated_at: string
}

export interface MemberInput {
  phone?: string
  name?: string | null
  email?: string | null
  birthday?: string | null
  gender?: string | null
  region?: string | null
  city?: string | null
  tags?: string[]
  notes?: string | null
  language?: string | null
  branch_id?: string
  consent?: Partial<Record<Channel, boolean>>
  /** How consent was collected (server default for the console: "console"). */
  consent_source?: 'counter' | 'console' | 'api' | 'import' | 'member' | 'web' | 'paper'
}

export interface TimelineEntry {
  id: string
  type: string
  occurred_at: string
  summary: string
  data: Record<string, unknown>
}

export interface Branch {
  id: string
  name: string
  code: string | null
  address: string | null
  phone: string | null
  active: boolean
  created_at: string
}

export interface BranchInput {
  name?: string
  code?: string | null
  address?: string | null
  phone?: string | null
  active?: boolean
}

export interface StaffInput {
  name?: string
  email?: string
  role?: Role
  password?: string
  branch_ids?: string[]
  active?: boolean
}

// ---------- loyalty ----------

export type ExpiryKind = 'never' | 'days' | 'end_of_month' | 'end_of_year'
export const EXPIRY_KINDS: readonly ExpiryKind[] = ['never', 'days', 'end_of_month', 'end_of_year'] as const

export interface PointType {
  id: string
  code: string
  name: string
  expiry: { kind: ExpiryKind; n: number }
  /** What 1,000 points are worth, in minor units (for the liability report). */
  value_minor_per_1000: number
  refund_shortfall: 'negative' | 'debt'
  active: boolean
  created_at: string
  updated_at: string
}

export interface PointTypeInput {
  code?: string
  name?: string
  expiry?: { kind: ExpiryKind; n: number }
  value_minor_per_1000?: number
  refund_shortfall?: 'negative' | 'debt'
  active?: boolean
}

export type RuleKind = 'per_amount' | 'per_visit' | 'per_item' | 'multiplier'
export const RULE_KINDS: readonly RuleKind[] = ['per_amount', 'per_visit', 'per_item', 'multiplier'] as const

/** An earning rule's `definition` object (a new definition replaces every field). */
export interface RuleDefinition {
  kind: RuleKind
  points?: number
  per_amount_minor?: number
  rounding?: 'floor' | 'round' | 'ceil'
  factor?: number
  stacking?: 'sum' | 'best_of'
  skus?: string[]
  categories?: string[]
  branch_ids?: string[]
  /** 0 = Sunday … 6 = Saturday, in the merchant's time zone. */
  weekdays?: number[]
  from?: string
  to?: string
  birthday_month?: boolean
  tier_levels?: number[]
  min_spend_minor?: number
  cap_per_order?: number
  cap_per_day?: number
}

export interface EarningRule {
  id: string
  version: number
  name: string
  point_type: string
  definition: RuleDefinition
  active: boolean
  valid_from: string
}

export interface EarningRuleInput {
  name?: string
  point_type?: string
  definition?: RuleDefinition
  active?: boolean
}

export interface Reward {
  id: string
  name: string
  point_type_id: string
  points: number
  stock: number | null
  per_member_limit: number | null
  active: boolean
  created_at: string
}

export interface RewardInput {
  name?: string
  point_type?: string
  points?: number
  stock?: number | null
  per_member_limit?: number | null
  active?: boolean
}

export interface PointBalance {
  point_type: string
  name: string
  balance: number
  debt: number
  earned_total: number
  expiring_soon: { points: number; expires_at: string | null }[]
}

export interface Balances {
  member_id: string
  points: PointBalance[]
}

export interface LedgerEntry {
  id: string
  kind: string
  point_type_id: string
  amount: number
  balance_after: number
  reason: string
  source: { type: string; id: string | null }
  branch_id: string | null
  staff_id: string | null
  created_at: string
}

export interface Lot {
  id: string
  earned_at: string
  expires_at: string | null
  original: number
  remaining: number
}

export interface OrderInput {
  external_id?: string
  member_id?: string
  phone?: string
  branch_id?: string
  occurred_at?: string
  currency?: string
  total_minor: number
  items?: { sku: string; name?: string; category?: string; quantity: number; unit_price_minor: number }[]
}

export interface EarnLine {
  rule_id: string
  rule_name: string
  point_type: string
  points: number
  explanation: string
}

export interface EarnResult {
  lines: EarnLine[]
  totals: Record<string, number>
}

export interface PointsMoved {
  point_type: string
  points: number
  balance_after: number
}

export interface Order {
  id: string
  external_id: string
  member_id: string | null
  branch_id: string | null
  staff_id: string | null
  occurred_at: string
  currency: string
  total_minor: number
  refunded_minor: number
  created_at: string
  loyalty?: { earned: EarnResult; points: PointsMoved[]; member_created: boolean }
}

export interface RedeemInput {
  member_id: string
  reward_id?: string
  point_type?: string
  points?: number
  order_id?: string
  branch_id?: string
  commit?: boolean
}

export interface Redemption {
  id: string
  member_id: string
  point_type_id: string
  points: number
  reward_id: string | null
  order_id: string | null
  status: string
  expires_at: string
  balance_after: number
  created_at: string
}

// ---------- wallet ----------

export interface WalletBalance {
  paid_minor: number
  bonus_minor: number
  total_minor: number
  currency: string
}

export interface WalletEntry {
  id: string
  seq: number
  kind: string
  amount_minor: number
  paid_minor: number
  bonus_minor: number
  total_after_minor: number
  currency: string
  scheme_id: string | null
  order_id: string | null
  payment_method: string | null
  reason: string | null
  branch_id: string | null
  staff_id: string | null
  created_at: string
}

export interface Wallet extends Page<WalletEntry> {
  member_id: string
  balance: WalletBalance
}

export interface WalletChange {
  member_id: string
  entry: WalletEntry
  balance: WalletBalance
}

export interface BonusScheme {
  id: string
  name: string
  pay_minor: number
  bonus_minor: number
  repeats: boolean
  currency: string
  valid_from: string | null
  valid_to: string | null
  active: boolean
  created_at: string
  updated_at: string
}

export interface BonusSchemeInput {
  name?: string
  pay_minor?: number
  bonus_minor?: number
  repeats?: boolean
  valid_from?: string | null
  valid_to?: string | null
  active?: boolean
}

export interface Page<T> {
  data: T[]
  next_cursor: string | null
}

/** An error answered by the server (or a network failure, code "network"). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly field: string | null
  readonly details: Record<string, unknown>

  constructor(status: number, code: string, message: string, field?: string | null, details?: Record<string, unknown>) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field ?? null
    this.details = details ?? {}
  }

  /** True when this error names `field` (or a sub-field such as `consent.sms`). */
  isField(field: string): boolean {
    if (!this.field) return false
    return this.field === field || this.field.startsWith(field + '.') || this.field.startsWith(field + '[')
  }
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'failed_precondition',
  422: 'idempotency_mismatch',
  429: 'resource_exhausted',
  500: 'internal',
  503: 'unavailable',
}

let csrfToken: string | null = null
let unauthenticatedHandler: (() => void) | null = null

export function setCsrfToken(token: string | null): void {
  csrfToken = token
}

/** Called when an authenticated call answers 401 (the session ended). */
export function onUnauthenticated(handler: () => void): void {
  unauthenticatedHandler = handler
}

export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  // Fallback for non-secure contexts (plain http on a LAN address).
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * One Idempotency-Key per user action: asking again for the same action (same fingerprint,
 * e.g. a retry after a network error) gives the same key and the same extra values, a changed
 * action gets new ones. Call `done()` once the server answered.
 */
export class ActionKeys<X extends Record<string, string> = Record<string, never>> {
  private pending: { fp: string; key: string; extra: X } | null = null
  constructor(private readonly makeExtra: () => X = () => ({}) as X) {}

  for(fingerprint: unknown): { key: string } & X {
    const fp = JSON.stringify(fingerprint)
    if (!this.pending || this.pending.fp !== fp) this.pending = { fp, key: newIdempotencyKey(), extra: this.makeExtra() }
    return { key: this.pending.key, ...this.pending.extra }
  }

  done(): void {
    this.pending = null
  }
}

/** Whether retrying the very same request may still succeed (nothing was decided by the server). */
export function isRetryable(e: unknown): boolean {
  return e instanceof ApiError && (e.code === 'network' || e.status >= 500 || e.status === 429)
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

interface RequestOptions {
  /** Reuse a key when retrying the same user action. */
  idempotencyKey?: string
  /** Do not trigger the global "session ended" handler on 401. */
  quiet401?: boolean
}

async function parseError(res: Response): Promise<ApiError> {
  let body: unknown = null
  try {
    body = await res.json()
  } catch {
    /* not JSON */
  }
  const e = (body as { error?: { code?: string; message?: string; field?: string; details?: Record<string, unknown> } } | null)?.error
  const code = e?.code ?? CODE_BY_STATUS[res.status] ?? 'internal'
  const message = e?.message ?? (res.statusText || `HTTP ${res.status}`)
  return new ApiError(res.status, code, message, e?.field ?? null, e?.details ?? {})
}

export async function request<T>(method: Method, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken
  if (method === 'POST') headers['Idempotency-Key'] = opts.idempotencyKey ?? newIdempotencyKey()

  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    })
  } catch (err) {
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err))
  }
  if (!res.ok) {
    const err = await parseError(res)
    if (res.status === 401 && !opts.quiet401 && unauthenticatedHandler) unauthenticatedHandler()
    throw err
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

const enc = encodeURIComponent

/** Fetches every page of a (small) list such as branches or staff. */
async function all<T>(path: string): Promise<T[]> {
  const out: T[] = []
  let cursor: string | null = null
  for (let i = 0; i < 50; i++) {
    const page: Page<T> = await request<Page<T>>('GET', path + qs({ limit: 500, cursor }))
    out.push(...page.data)
    if (!page.next_cursor) break
    cursor = page.next_cursor
  }
  return out
}

export const api = {
  login: (email: string, password: string) =>
    request<Session>('POST', '/api/v1/auth/login', { email, password }, { quiet401: true }),
  me: () => request<Session>('GET', '/api/v1/auth/me', undefined, { quiet401: true }),
  logout: () => request<void>('POST', '/api/v1/auth/logout', undefined, { quiet401: true }),

  listMembers: (q: string, cursor: string | null, limit = 50) =>
    request<Page<Member>>('GET', '/api/v1/members' + qs({ q: q.trim(), cursor, limit })),
  getMember: (id: string) => request<Member>('GET', `/api/v1/members/${enc(id)}`),
  createMember: (input: MemberInput, idempotencyKey?: string) =>
    request<Member>('POST', '/api/v1/members', input, { idempotencyKey }),
  updateMember: (id: string, input: MemberInput) => request<Member>('PATCH', `/api/v1/members/${enc(id)}`, input),
  eraseMember: (id: string) => request<Member>('DELETE', `/api/v1/members/${enc(id)}`),
  timeline: (id: string, cursor: string | null, limit = 20) =>
    request<Page<TimelineEntry>>('GET', `/api/v1/members/${enc(id)}/timeline` + qs({ cursor, limit })),

  listBranches: () => all<Branch>('/api/v1/branches'),
  createBranch: (input: BranchInput) => request<Branch>('POST', '/api/v1/branches', input),
  updateBranch: (id: string, input: BranchInput) => request<Branch>('PATCH', `/api/v1/branches/${enc(id)}`, input),

  listStaff: () => all<Staff>('/api/v1/staff'),
  createStaff: (input: StaffInput) => request<Staff>('POST', '/api/v1/staff', input),
  updateStaff: (id: string, input: StaffInput) => request<Staff>('PATCH', `/api/v1/staff/${enc(id)}`, input),

  lookupMember: (by: { phone: string } | { code: string }) => request<Member>('POST', '/api/v1/members/lookup', by),

  // Loyalty configuration.
  listPointTypes: () => all<PointType>('/api/v1/point-types'),
  createPointType: (input: PointTypeInput) => request<PointType>('POST', '/api/v1/point-types', input),
  updatePointType: (id: string, input: PointTypeInput) => request<PointType>('PATCH', `/api/v1/point-types/${enc(id)}`, input),
  listRules: () => all<EarningRule>('/api/v1/earning-rules'),
  createRule: (input: EarningRuleInput) => request<EarningRule>('POST', '/api/v1/earning-rules', input),
  updateRule: (id: string, input: EarningRuleInput) => request<EarningRule>('PATCH', `/api/v1/earning-rules/${enc(id)}`, input),
  listRewards: () => all<Reward>('/api/v1/rewards'),
  createReward: (input: RewardInput) => request<Reward>('POST', '/api/v1/rewards', input),
  updateReward: (id: string, input: RewardInput) => request<Reward>('PATCH', `/api/v1/rewards/${enc(id)}`, input),
  listBonusSchemes: () => all<BonusScheme>('/api/v1/wallet/bonus-schemes'),
  createBonusScheme: (input: BonusSchemeInput) => request<BonusScheme>('POST', '/api/v1/wallet/bonus-schemes', input),
  updateBonusScheme: (id: string, input: BonusSchemeInput) =>
    request<BonusScheme>('PATCH', `/api/v1/wallet/bonus-schemes/${enc(id)}`, input),

  // Points.
  calculate: (input: OrderInput) => request<EarnResult>('POST', '/api/v1/loyalty/calculate', input),
  createOrder: (input: OrderInput, idempotencyKey?: string) => request<Order>('POST', '/api/v1/orders', input, { idempotencyKey }),
  balances: (memberId: string) => request<Balances>('GET', `/api/v1/members/${enc(memberId)}/balances`),
  ledger: (memberId: string, cursor: string | null, limit = 20) =>
    request<Page<LedgerEntry>>('GET', `/api/v1/members/${enc(memberId)}/ledger` + qs({ cursor, limit })),
  lots: (memberId: string, pointType: string) =>
    request<Page<Lot>>('GET', `/api/v1/members/${enc(memberId)}/lots` + qs({ point_type: pointType })),
  adjust: (memberId: string, input: { point_type?: string; points: number; reason: string }, idempotencyKey?: string) =>
    request<LedgerEntry>('POST', `/api/v1/members/${enc(memberId)}/adjustments`, input, { idempotencyKey }),
  redeem: (input: RedeemInput, idempotencyKey?: string) => request<Redemption>('POST', '/api/v1/redemptions', input, { idempotencyKey }),

  // Wallet.
  wallet: (memberId: string, cursor: string | null, limit = 20) =>
    request<Wallet>('GET', `/api/v1/members/${enc(memberId)}/wallet` + qs({ cursor, limit })),
  topUp: (memberId: string, input: { amount_minor: number; branch_id?: string; payment_method?: string }, idempotencyKey?: string) =>
    request<WalletChange>('POST', `/api/v1/members/${enc(memberId)}/wallet/top-ups`, input, { idempotencyKey }),
}

// ---------- order imports ----------

/** The order fields a CSV column can feed (`mapping` keys). */
export type ImportField =
  | 'order_id'
  | 'occurred_at'
  | 'sku'
  | 'name'
  | 'category'
  | 'quantity'
  | 'unit_price'
  | 'line_total'
  | 'customer_id'
  | 'phone'
  | 'email'
  | 'customer_name'
  | 'country'
  | 'city'
  | 'branch'
  | 'currency'
  | 'cancelled'

export type ImportEncoding = 'auto' | 'utf-8' | 'big5' | 'gb18030'
export const IMPORT_ENCODINGS: readonly ImportEncoding[] = ['auto', 'utf-8', 'big5', 'gb18030'] as const

/** field → column header (a field absent: not in the file). */
export type ImportMapping = Partial<Record<ImportField, string>>

export interface ImportPreview {
  encoding: string
  header: string[]
  rows: string[][]
  preset: string | null
  mapping: ImportMapping | null
  presets: string[]
  fields: ImportField[]
  required: ImportField[]
}

export interface ImportRejected {
  line: number
  column: string
  reason: string
}

export interface ImportReport {
  lines: number
  lines_imported: number
  lines_rejected: number
  orders_created: number
  orders_existing: number
  anonymous_orders: number
  refunds: number
  standalone_returns: number
  returns_existing: number
  members_created: number
  members_matched: number
  revenue_minor: number
  refunded_minor: number
  points_awarded: number
  currency: string
  encoding: string
  dry_run: boolean
  committed: boolean
  seconds: number
  rejected: ImportRejected[]
}

export type ImportStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface ImportJob {
  id: string
  status: ImportStatus
  file_name: string
  options: Record<string, unknown>
  progress: { lines: number; bytes_consumed: number; total_bytes: number; percent: number }
  report: ImportReport | null
  error: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}

/** Query parameters of POST /api/v1/imports (booleans are sent only when true). */
export interface ImportParams {
  file_name: string
  preset?: string | null
  mapping?: ImportMapping | null
  encoding?: ImportEncoding
  dry_run?: boolean
  all_or_nothing?: boolean
  award_points?: boolean
  rebuild_tiers?: boolean
}

/** The bytes of a CSV (or .gz) file: its Content-Type for the upload. */
export function importContentType(file: { name: string; type: string }): string {
  if (/\.gz$/i.test(file.name) || file.type === 'application/gzip' || file.type === 'application/x-gzip') return 'application/gzip'
  if (/\.(csv|txt)$/i.test(file.name) || file.type === 'text/csv' || file.type === 'text/plain') return 'text/csv'
  return 'application/octet-stream'
}

export function importQuery(p: ImportParams): string {
  return qs({
    file_name: p.file_name,
    preset: p.preset ?? undefined,
    mapping: p.mapping && Object.keys(p.mapping).length ? JSON.stringify(p.mapping) : undefined,
    encoding: p.encoding && p.encoding !== 'auto' ? p.encoding : undefined,
    dry_run: p.dry_run ? 'true' : undefined,
    all_or_nothing: p.all_or_nothing ? 'true' : undefined,
    award_points: p.award_points ? 'true' : undefined,
    rebuild_tiers: p.rebuild_tiers ? 'true' : undefined,
  })
}

/** Posts raw bytes (not JSON) with the console's headers. */
async function requestBytes<T>(path: string, body: Blob, contentType: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': contentType }
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken
  headers['Idempotency-Key'] = opts.idempotencyKey ?? newIdempotencyKey()
  let res: Response
  try {
    res = await fetch(path, { method: 'POST', headers, body, credentials: 'same-origin' })
  } catch (err) {
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err))
  }
  if (!res.ok) {
    const err = await parseError(res)
    if (res.status === 401 && unauthenticatedHandler) unauthenticatedHandler()
    throw err
  }
  return (await res.json()) as T
}

/**
 * Uploads a whole file as the raw body of POST /api/v1/imports, reporting upload progress
 * (XMLHttpRequest: fetch cannot). Resolves with the queued job (202).
 */
function uploadImport(file: Blob, params: ImportParams, idempotencyKey: string, onProgress?: (sent: number, total: number) => void): Promise<ImportJob> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/v1/imports' + importQuery(params))
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.setRequestHeader('Content-Type', importContentType({ name: params.file_name, type: file.type }))
    xhr.setRequestHeader('Idempotency-Key', idempotencyKey)
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken)
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size)
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload was interrupted'))
    xhr.onabort = () => reject(new ApiError(0, 'network', 'the upload was aborted'))
    xhr.onload = () => {
      const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText, headers: { 'Content-Type': 'application/json' } })
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as ImportJob)
        } catch (e) {
          reject(new ApiError(xhr.status, 'internal', e instanceof Error ? e.message : String(e)))
        }
        return
      }
      void parseError(res).then((err) => {
        if (xhr.status === 401 && unauthenticatedHandler) unauthenticatedHandler()
        reject(err)
      })
    }
    xhr.send(file)
  })
}

export const importsApi = {
  /** The first bytes of a file (up to 256 KiB): encoding, header, first rows, guessed preset. */
  preview: (head: Blob, opts: { encoding?: ImportEncoding } = {}) =>
    requestBytes<ImportPreview>(
      '/api/v1/imports/preview' + qs({ encoding: opts.encoding && opts.encoding !== 'auto' ? opts.encoding : undefined }),
      head,
      'application/octet-stream',
    ),
  start: uploadImport,
  list: (cursor: string | null, limit = 20) => request<Page<ImportJob>>('GET', '/api/v1/imports' + qs({ cursor, limit })),
  get: (id: string) => request<ImportJob>('GET', `/api/v1/imports/${enc(id)}`),
  cancel: (id: string) => request<ImportJob>('POST', `/api/v1/imports/${enc(id)}/cancel`),
  rejectedUrl: (id: string) => `/api/v1/imports/${enc(id)}/rejected`,
}
