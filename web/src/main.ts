import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { applyLocale, currentLocale, i18n } from './i18n'
import { onUnauthenticated } from './api'
import { clearSession } from './session'
import './style.css'

applyLocale(currentLocale())

onUnauthenticated(() => {
  clearSession()
  const here = router.currentRoute.value
  if (here.name !== 'login') void router.replace({ name: 'login', query: { next: here.fullPath } })
})

createApp(App).use(i18n).use(router).mount('#app')
