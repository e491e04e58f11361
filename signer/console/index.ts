/**
 * The operator console's shared parts: the admin account and sessions, the session guard with
 * CSRF protection, the page layout and flash messages. Pages and routes of other console areas
 * (models, tokens, dashboard, privacy) build on these and rely on the guard mounted in the app.
 */
export * from './accounts.js';
export * from './client-ip.js';
export * from './flash.js';
export * from './guard.js';
export * from './layout.js';
export * from './login-limiter.js';
export * from './privacy.js';
export * from './audit.js';
export * from './audit-export.js';
export * from './session.js';
export * from './setup.js';
export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';
export { InitPage, LoginPage } from './pages/auth.js';
export { ModelsPage } from './pages/models.js';
export { TokenEditPage, TokensPage } from './pages/tokens.js';
export { DashboardPage } from './pages/dashboard.js';
export { LevelSelect, PrivacyPage, levelText, type GuardSummary } from './pages/privacy.js';
export { AuditPage } from './pages/audit.js';
