/**
 * The console's page shell: head (stylesheet, CSRF meta tag for page scripts), navigation with
 * a logout button, a flash message, and the page's content. Every console page renders in it.
 */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import type { AdminSession } from './accounts.js';
import type { Flash } from './flash.js';

/** Props of `Layout`. */
export interface LayoutProps {
  title: string;
  /** The logged-in admin (from `c.var.admin`); omitted on the init and login pages. */
  admin?: AdminSession | null;
  /** A message left by the previous form post (see `flashOf`). */
  flash?: Flash;
  children?: Child;
}

const NAV: [string, string][] = [
  ['/console', 'Dashboard'],
  ['/console/models', 'Models'],
  ['/console/tokens', 'Tokens'],
  ['/console/privacy', 'Privacy'],
  ['/docs', 'API docs'],
];

/** The hidden `_csrf` field every console form must carry. */
export function CsrfField({ admin }: { admin: AdminSession }) {
  return <input type="hidden" name="_csrf" value={admin.csrfToken} />;
}

/** A page of the operator console. */
export function Layout({ title, admin, flash, children }: LayoutProps) {
  return (
    <>
      {raw('<!DOCTYPE html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          {admin && <meta name="csrf-token" content={admin.csrfToken} />}
          <title>{title} · Signer console</title>
          <link rel="icon" href="/favicon.ico" />
          <link rel="stylesheet" href="/console/assets/console.css" />
          <script src="/console/assets/console.js" defer />
        </head>
        <body>
          <header class="topbar">
            <strong class="brand">Signer console</strong>
            {admin && (
              <nav>
                {NAV.map(([href, label]) => (
                  <a href={href}>{label}</a>
                ))}
                <form method="post" action="/console/logout" class="inline">
                  <CsrfField admin={admin} />
                  <button type="submit" class="link">
                    Log out {admin.username}
                  </button>
                </form>
              </nav>
            )}
          </header>
          <main>
            <h1>{title}</h1>
            {flash?.notice && (
              <p class="flash notice" role="status">
                {flash.notice}
              </p>
            )}
            {flash?.error && (
              <p class="flash error" role="alert">
                {flash.error}
              </p>
            )}
            {children}
          </main>
        </body>
      </html>
    </>
  );
}
