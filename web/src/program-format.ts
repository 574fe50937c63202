// Words for the loyalty program's values, shared by the settings pages, the counter and the
// member page: what a coupon gives, what a tier threshold means, and server refusals a cashier
// understands (the server's own message stays visible under them).
import { ApiError } from './api'
import type { Coupon, CouponTemplate, Tier, TierProgram } from './api-program'
import { formatDateTime, formatMoney, formatNumber } from './format'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type T = (key: string, ...args: any[]) => string

/** "NT$50 off", "10% off (at most NT$100)", "Free: 中杯紅茶". */
export function couponOffer(t: T, c: Pick<CouponTemplate | Coupon, 'kind' | 'amount_off_minor' | 'percent_off' | 'free_item' | 'max_discount_minor'>): string {
  let s: string
  if (c.kind === 'amount_off') s = t('program.coupons.offer.amount_off', { amount: formatMoney(c.amount_off_minor ?? 0) })
  else if (c.kind === 'percent_off') s = t('program.coupons.offer.percent_off', { n: c.percent_off ?? 0 })
  else s = t('program.coupons.offer.free_item', { item: c.free_item ?? '' })
  if (c.max_discount_minor != null && c.kind === 'percent_off') s += ' ' + t('program.coupons.offer.cap', { amount: formatMoney(c.max_discount_minor) })
  return s
}

/** A threshold or progress value in the program's metric: "NT$3,000" or "300 points". */
export function metricValue(t: T, program: TierProgram | null, v: number): string {
  return program?.metric === 'points' ? t('program.tiers.pointsN', { n: formatNumber(v) }, v) : formatMoney(v)
}

/** "Gold: NT$1,200 more" as a sentence. */
export function toNextText(t: T, program: TierProgram | null, toNext: number, next: Tier): string {
  return t('program.tiers.toNext', { amount: metricValue(t, program, toNext), name: next.name })
}

/** The benefits object as one line: known keys in words, `text` as written, the rest as key: value. */
export function benefitsText(t: T, b: Record<string, unknown> | null | undefined): string {
  if (!b) return ''
  const out: string[] = []
  for (const [k, v] of Object.entries(b)) {
    if (v === null || v === undefined || v === '') continue
    if (k === 'text') out.push(String(v))
    else if (k === 'birthday_gift') out.push(t('program.tiers.benefit.birthday_gift', { gift: String(v) }))
    else if (k === 'member_price_percent') out.push(t('program.tiers.benefit.member_price_percent', { n: String(v) }))
    else out.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
  }
  return out.join(' · ')
}

const AT = /at (\d{4}-\d\d-\d\dT[\d:.]+Z)/

/**
 * A title for a server refusal, in the console's language, for the refusals a cashier meets
 * (a coupon used twice, expired, below its minimum spend; a stamp reward used twice; a card
 * switched off). Undefined: ErrorBanner's usual title by error code.
 */
export function refusalTitle(t: T, e: unknown): string | undefined {
  if (!(e instanceof ApiError)) return undefined
  const m = e.message
  const when = () => formatDateTime((typeof e.details.redeemed_at === 'string' ? e.details.redeemed_at : null) ?? AT.exec(m)?.[1] ?? null)
  if (/coupon already redeemed/.test(m)) return t('program.refusals.couponUsed', { when: when() })
  if (/coupon expired/.test(m)) return t('program.refusals.couponExpired', { when: when() })
  if (/coupon is not valid until (\S+)/.test(m)) return t('program.refusals.couponNotYet', { when: formatDateTime(/until (\S+)/.exec(m)?.[1]) })
  if (/coupon was voided/.test(m)) return t('program.refusals.couponVoided')
  if (/minimum spend is (\d+)/.test(m)) return t('program.refusals.minSpend', { amount: formatMoney(Number(/minimum spend is (\d+)/.exec(m)![1])) })
  if (/belongs to another member/.test(m)) return t('program.refusals.otherMember')
  if (/already used/.test(m)) return t('program.refusals.rewardUsed', { when: when() })
  if (e.code === 'failed_precondition' && e.field === 'card_id') return t('program.refusals.cardOff')
  if (e.code === 'not_found' && /coupon/i.test(m)) return t('program.refusals.noCoupon')
  return undefined
}
