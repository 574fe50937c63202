// The loyalty program beyond points: tiers, stamp cards, coupons, referrals and reports.
// Every call goes through `request` in api.ts (CSRF header, Idempotency-Key, ApiError), so the
// contract is the same as for the rest of the console; see src/http/openapi/openapi.json.
import { request, type Page } from './api'

// ---------- tiers ----------

export type TierMetric = 'spend' | 'points'
export type TierWindowKind = 'rolling_days' | 'calendar_year'

export interface Tier {
  id: string
  /** 1 to 10, higher is better. */
  level: number
  name: string
  /** Spend in minor units (metric `spend`) or points earned (metric `points`) within the window. */
  threshold: number
  earn_multiplier: number
  /** Free-form; the console writes `{ text: "…" }` and shows any string values. */
  benefits: Record<string, unknown>
}

export interface TierInput {
  level?: number
  name?: string
  threshold?: number
  earn_multiplier?: number
  benefits?: Record<string, unknown>
}

export interface TierProgram {
  metric: TierMetric
  point_type_id: string | null
  window: { kind: TierWindowKind; days: number }
  grace_days: number
}

/** The whole program (fields left out take the server's defaults, not their old values). */
export interface TierProgramInput {
  metric: TierMetric
  point_type?: string
  window: { kind: TierWindowKind; days?: number }
  grace_days: number
}

export interface MemberTier {
  tier: Tier | null
  qualified_level: number
  value: number
  window_start: string
  next_tier: Tier | null
  to_next: number
  grace_until: string | null
  override: { level: number; until: string | null } | null
  history?: { from_level: number; to_level: number; reason: string; at: string }[]
}

// ---------- stamp cards ----------

export interface StampCard {
  id: string
  name: string
  /** The code of the point type holding the stamps. */
  point_type: string
  stamps_needed: number
  per: 'visit' | 'item'
  skus: string[]
  categories: string[]
  reward_name: string
  restart: boolean
  active: boolean
}

export interface StampCardInput {
  name?: string
  point_type?: string
  stamps_needed?: number
  per?: 'visit' | 'item'
  skus?: string[]
  categories?: string[]
  reward_name?: string
  restart?: boolean
  active?: boolean
}

export interface StampReward {
  id: string
  member_id: string
  card_id: string
  card_name: string
  reward_name: string
  order_id: string | null
  status: 'available' | 'used'
  created_at: string
  used_at: string | null
}

export interface StampResult {
  stamps_added: number
  stamps_after: number
  rewards: StampReward[]
}

// ---------- coupons ----------

export type CouponKind = 'amount_off' | 'percent_off' | 'free_item'
export const COUPON_KINDS: readonly CouponKind[] = ['amount_off', 'percent_off', 'free_item'] as const
export type CouponTrigger = 'manual' | 'welcome' | 'birthday' | 'spend'
export const COUPON_TRIGGERS: readonly CouponTrigger[] = ['manual', 'welcome', 'birthday', 'spend'] as const
export type CouponStatus = 'available' | 'redeemed' | 'expired' | 'not_yet_valid'

export interface CouponTemplate {
  id: string
  name: string
  kind: CouponKind
  amount_off_minor: number | null
  percent_off: number | null
  free_item: string | null
  item_value_minor: number | null
  max_discount_minor: number | null
  min_spend_minor: number
  valid_from: string | null
  valid_to: string | null
  valid_days: number | null
  issue_on: CouponTrigger
  birthday_days_before: number | null
  spend_threshold_minor: number | null
  active: boolean
  currency: string
  created_at: string
  updated_at: string
}

export type CouponTemplateInput = Partial<Omit<CouponTemplate, 'id' | 'currency' | 'created_at' | 'updated_at'>>

export interface Coupon {
  id: string
  code: string
  member_id: string
  template_id: string
  name: string
  kind: CouponKind
  amount_off_minor: number | null
  percent_off: number | null
  free_item: string | null
  max_discount_minor: number | null
  min_spend_minor: number
  currency: string
  status: CouponStatus
  valid_from: string
  valid_until: string | null
  source: string
  batch_id: string | null
  issued_at: string
  redemption: { redeemed_at: string; discount_minor: number | null; order_total_minor: number | null; order_ref: string | null; branch_id: string | null; by: string | null } | null
  /** Redeem answers only. */
  discount_minor?: number
}

export type CouponIssue = { template_id: string } & ({ member_id: string } | { member_ids: string[] } | { audience: 'consented'; channel?: 'sms' | 'email' | 'line' })

export interface CouponBatch {
  batch_id: string
  template_id: string
  issued: number
}

// ---------- referrals ----------

export type ReferralReward = { point_type: string; points: number } | { coupon_template_id: string } | null

export interface ReferralProgram {
  configured: boolean
  active: boolean
  referrer_reward: ReferralReward
  newcomer_reward: ReferralReward
  min_spend_minor: number
  currency: string
  limit_per_referrer: number | null
  updated_at: string | null
}

export interface ReferralProgramInput {
  active: boolean
  referrer_reward: ReferralReward
  newcomer_reward: ReferralReward
  min_spend_minor: number
  limit_per_referrer: number | null
}

export interface Referral {
  id: string
  referrer_id: string
  member_id: string
  referral_code: string
  device_id: string | null
  status: 'pending' | 'rewarded'
  order_id: string | null
  created_at: string
  rewarded_at: string | null
}

// ---------- reports ----------

export interface LiabilityRow {
  kind: 'points' | 'wallet'
  /** The point type's code for points; `paid` or `bonus` for the wallet. */
  point_type: string
  branch_id: string | null
  members: number
  outstanding: number
  value_minor: number
  currency: string
}

export interface ActivityRow {
  day: string
  branch_id: string | null
  point_type: string
  earned: number
  redeemed: number
  expired: number
  reversed: number
}

export type ReportName = 'liability' | 'points-activity'

export interface ReportQuery {
  from?: string
  to?: string
  branch_id?: string
}

// ---------- calls ----------

const enc = encodeURIComponent

function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** Every page of a paged list (coupons, referrals of one member: small). */
async function all<T>(path: string, params: Record<string, string | undefined> = {}): Promise<T[]> {
  const out: T[] = []
  let cursor: string | null = null
  for (let i = 0; i < 50; i++) {
    const page: Page<T> = await request<Page<T>>('GET', path + qs({ ...params, limit: 200, cursor }))
    out.push(...page.data)
    if (!page.next_cursor) break
    cursor = page.next_cursor
  }
  return out
}

/** The address of a report's CSV download (the server answers it as an attachment). */
export function reportCsvUrl(name: ReportName, q: ReportQuery = {}): string {
  return `/api/v1/reports/${enc(name)}` + qs({ ...q, format: 'csv' })
}

export const programApi = {
  // Tiers.
  tiers: () => request<{ data: Tier[]; program: TierProgram }>('GET', '/api/v1/tiers'),
  setTierProgram: (input: TierProgramInput) => request<TierProgram>('POST', '/api/v1/tier-program', input),
  createTier: (input: TierInput) => request<Tier>('POST', '/api/v1/tiers', input),
  updateTier: (id: string, input: TierInput) => request<Tier>('PATCH', `/api/v1/tiers/${enc(id)}`, input),
  memberTier: (memberId: string) => request<MemberTier>('GET', `/api/v1/members/${enc(memberId)}/tier`),
  overrideTier: (memberId: string, input: { level: number; until?: string }) =>
    request<MemberTier>('POST', `/api/v1/members/${enc(memberId)}/tier-override`, input),

  // Stamp cards.
  stampCards: async () => (await request<Page<StampCard>>('GET', '/api/v1/stamp-cards')).data,
  createStampCard: (input: StampCardInput) => request<StampCard>('POST', '/api/v1/stamp-cards', input),
  updateStampCard: (id: string, input: StampCardInput) => request<StampCard>('PATCH', `/api/v1/stamp-cards/${enc(id)}`, input),
  addStamps: (memberId: string, input: { card_id: string; stamps?: number }, idempotencyKey?: string) =>
    request<StampResult>('POST', `/api/v1/members/${enc(memberId)}/stamps`, input, { idempotencyKey }),
  stampRewards: async (memberId: string) => (await request<Page<StampReward>>('GET', `/api/v1/members/${enc(memberId)}/stamp-rewards`)).data,
  useStampReward: (id: string, idempotencyKey?: string) =>
    request<StampReward>('POST', `/api/v1/stamp-rewards/${enc(id)}/use`, undefined, { idempotencyKey }),

  // Coupons.
  couponTemplates: () => all<CouponTemplate>('/api/v1/coupon-templates'),
  createCouponTemplate: (input: CouponTemplateInput) => request<CouponTemplate>('POST', '/api/v1/coupon-templates', input),
  updateCouponTemplate: (id: string, input: CouponTemplateInput) =>
    request<CouponTemplate>('PATCH', `/api/v1/coupon-templates/${enc(id)}`, input),
  memberCoupons: (memberId: string) => all<Coupon>('/api/v1/coupons', { member_id: memberId }),
  issueCoupons: (input: CouponIssue, idempotencyKey?: string) =>
    request<Coupon | CouponBatch>('POST', '/api/v1/coupons', input, { idempotencyKey }),
  redeemCoupon: (
    code: string,
    input: { member_id?: string; order_total_minor?: number; order_ref?: string; branch_id?: string },
    idempotencyKey?: string,
  ) => request<Coupon>('POST', `/api/v1/coupons/${enc(code)}/redeem`, input, { idempotencyKey }),

  // Referrals.
  referralProgram: () => request<ReferralProgram>('GET', '/api/v1/referral-program'),
  setReferralProgram: (input: ReferralProgramInput) => request<ReferralProgram>('POST', '/api/v1/referral-program', input),
  memberReferrals: (memberId: string) => all<Referral>('/api/v1/referrals', { member_id: memberId }),
  /** A newcomer joined with a friend's code (right after joining, before any purchase). */
  recordReferral: (input: { member_id: string; referral_code: string }, idempotencyKey?: string) =>
    request<Referral>('POST', '/api/v1/referrals', input, { idempotencyKey }),

  // Reports.
  liability: async () => (await request<{ report: 'liability'; data: LiabilityRow[] }>('GET', '/api/v1/reports/liability')).data,
  pointsActivity: (q: ReportQuery) =>
    request<{ report: 'points-activity'; from: string; to: string; data: ActivityRow[] }>('GET', '/api/v1/reports/points-activity' + qs({ ...q })),
}
