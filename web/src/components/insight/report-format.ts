// How the insight dashboard writes a report's cells and column names: money in the merchant's
// currency, shares as percentages, instants as dates in the merchant's zone, RFM groups by
// their names in the console's language; columns by their label under insight.dash.cols.
import type { ReportColumn } from '../../api-insight'
import { formatDate, formatMoney, formatNumber } from '../../format'

type T = (key: string, named?: Record<string, unknown>) => string
type Te = (key: string) => boolean

export function isMoney(c: ReportColumn): boolean {
  return c.type === 'money' || c.name.endsWith('_minor')
}
export function isShare(c: ReportColumn): boolean {
  return ['percent', 'ratio', 'rate', 'share', 'fraction'].includes(c.type) || /(^|_)(rate|share|retention|p_alive)($|_)/.test(c.name) || c.name === 'p_alive'
}
export function isDate(c: ReportColumn): boolean {
  return ['date', 'datetime', 'timestamp', 'time'].includes(c.type) || c.name.endsWith('_at')
}

export function formatShare(v: number): string {
  return `${formatNumber(Math.round(v * 1000) / 10)}%`
}

export function columnLabel(name: string, t: T, te: Te): string {
  if (name === '__table') return t('insight.dash.showTable')
  const key = `insight.dash.cols.${name}`
  if (te(key)) return t(key)
  const m = /^(?:m|month_?|month\+)(\d{1,2})$/.exec(name)
  if (m) return t('insight.dash.monthN', { n: Number(m[1]) })
  return name.replace(/_minor$/, '').replace(/_/g, ' ')
}

export function cellText(c: ReportColumn, v: unknown, t: T, te: Te): string {
  if (v === null || v === undefined || v === '') return '—'
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '—'
    if (isMoney(c)) return formatMoney(Math.round(v))
    if (isShare(c)) return formatShare(v)
    return formatNumber(Math.round(v * 100) / 100)
  }
  if (typeof v === 'string') {
    if (isDate(c) && /^\d{4}-\d{2}-\d{2}T/.test(v)) return formatDate(v)
    if ((c.name === 'group' || c.name === 'rfm_group') && te(`insight.rfm.${v}`)) return t(`insight.rfm.${v}`)
    return v
  }
  if (typeof v === 'boolean') return v ? '✓' : '—'
  return JSON.stringify(v)
}
