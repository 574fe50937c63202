import { createRouter, createWebHistory, type RouteLocationRaw } from 'vue-router'
import { ensureSession, session } from './session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without logging in. */
    public?: boolean
    /** Only the owner role may open it. */
    ownerOnly?: boolean
    /** Only owners and managers may open it. */
    managerOnly?: boolean
    /** i18n key of the page title. */
    title?: string
  }
}

function home(): RouteLocationRaw {
  return session.staff?.role === 'cashier' ? { name: 'counter' } : { name: 'members' }
}

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true, title: 'login.title' } },
    { path: '/', name: 'home', redirect: () => home() },
    { path: '/counter', name: 'counter', component: () => import('./pages/CounterPage.vue'), meta: { title: 'counter.title' } },
    { path: '/counter/register', name: 'register', component: () => import('./pages/RegisterPage.vue'), meta: { title: 'register.title' } },
    { path: '/members', name: 'members', component: () => import('./pages/MembersPage.vue'), meta: { title: 'members.title' } },
    { path: '/members/:id', name: 'member', component: () => import('./pages/MemberPage.vue'), props: true, meta: { title: 'members.title' } },
    { path: '/branches', name: 'branches', component: () => import('./pages/BranchesPage.vue'), meta: { ownerOnly: true, title: 'branches.title' } },
    { path: '/staff', name: 'staff', component: () => import('./pages/StaffPage.vue'), meta: { ownerOnly: true, title: 'staff.title' } },
    { path: '/settings', name: 'settings', redirect: { name: 'settings-point-types' } },
    { path: '/settings/point-types', name: 'settings-point-types', component: () => import('./pages/settings/PointTypesPage.vue'), meta: { managerOnly: true, title: 'settings.pointTypes.title' } },
    { path: '/settings/rules', name: 'settings-rules', component: () => import('./pages/settings/RulesPage.vue'), meta: { managerOnly: true, title: 'settings.rules.title' } },
    { path: '/settings/rewards', name: 'settings-rewards', component: () => import('./pages/settings/RewardsPage.vue'), meta: { managerOnly: true, title: 'settings.rewards.title' } },
    { path: '/settings/wallet', name: 'settings-wallet', component: () => import('./pages/settings/BonusSchemesPage.vue'), meta: { managerOnly: true, title: 'settings.wallet.title' } },
    { path: '/settings/tiers', name: 'settings-tiers', component: () => import('./pages/settings/TiersPage.vue'), meta: { managerOnly: true, title: 'program.tiers.title' } },
    { path: '/settings/stamp-cards', name: 'settings-stamp-cards', component: () => import('./pages/settings/StampCardsPage.vue'), meta: { managerOnly: true, title: 'program.stamps.title' } },
    { path: '/settings/coupons', name: 'settings-coupons', component: () => import('./pages/settings/CouponsPage.vue'), meta: { managerOnly: true, title: 'program.coupons.title' } },
    { path: '/settings/referrals', name: 'settings-referrals', component: () => import('./pages/settings/ReferralsPage.vue'), meta: { managerOnly: true, title: 'program.referrals.title' } },
    { path: '/reports', name: 'reports', component: () => import('./pages/ReportsPage.vue'), meta: { managerOnly: true, title: 'program.reports.title' } },
    { path: '/messaging', name: 'messaging', redirect: { name: 'messaging-channels' } },
    { path: '/messaging/channels', name: 'messaging-channels', component: () => import('./pages/messaging/ChannelsPage.vue'), meta: { managerOnly: true, title: 'messaging.channels.title' } },
    { path: '/messaging/templates', name: 'messaging-templates', component: () => import('./pages/messaging/TemplatesPage.vue'), meta: { managerOnly: true, title: 'messaging.templates.title' } },
    { path: '/messaging/log', name: 'messaging-log', component: () => import('./pages/messaging/LogPage.vue'), meta: { managerOnly: true, title: 'messaging.log.title' } },
    { path: '/segments', name: 'segments', component: () => import('./pages/SegmentsPage.vue'), meta: { managerOnly: true, title: 'insight.segments.title' } },
    { path: '/segments/:id', name: 'segment', component: () => import('./pages/SegmentEditPage.vue'), props: true, meta: { managerOnly: true, title: 'insight.builder.titleEdit' } },
    { path: '/segments/:id/members', name: 'segment-members', component: () => import('./pages/SegmentMembersPage.vue'), props: true, meta: { managerOnly: true, title: 'insight.segments.members' } },
    { path: '/insight', name: 'insight', component: () => import('./pages/InsightPage.vue'), meta: { managerOnly: true, title: 'insight.dash.title' } },
    { path: '/imports', name: 'imports', component: () => import('./pages/ImportsPage.vue'), meta: { managerOnly: true, title: 'imports.title' } },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue'), meta: { public: true, title: 'notFound.title' } },
  ],
})

router.beforeEach(async (to) => {
  const loggedIn = await ensureSession()
  if (to.name === 'login') {
    if (!loggedIn) return true
    const next = typeof to.query.next === 'string' && to.query.next.startsWith('/') ? to.query.next : null
    return next ?? home()
  }
  if (to.meta.public) return true
  if (!loggedIn) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.meta.ownerOnly && session.staff?.role !== 'owner') return home()
  if (to.meta.managerOnly && session.staff?.role === 'cashier') return home()
  return true
})
