/** The console's first-run page (create the admin) and login page. */
import { Layout } from '../layout.js';
import { MIN_PASSWORD_LENGTH } from '../passwords.js';
import type { Flash } from '../flash.js';
import { SETUP_TOKEN_FILE } from '../setup.js';

/**
 * The initialization form: shown until an admin exists. `token`, from the setup URL the signer
 * printed, travels in a hidden field; without it the form asks for the token.
 */
export function InitPage({ username = '', token, flash }: { username?: string; token?: string; flash?: Flash }) {
  return (
    <Layout title="Set up the console" flash={flash}>
      <form method="post" action="/console/init" class="card narrow">
        <p>No admin account exists yet. Choose the username and password of the console's administrator.</p>
        {token ? (
          <input type="hidden" name="token" value={token} />
        ) : (
          <>
            <label for="token">
              Setup token{' '}
              <span class="hint">
                printed in the signer's log when it started (with a /console/init?token=... link), and in the file{' '}
                {SETUP_TOKEN_FILE} next to its database
              </span>
            </label>
            <input id="token" name="token" required maxlength={256} autocomplete="off" spellcheck={false} />
          </>
        )}
        <label for="username">Username</label>
        <input id="username" name="username" value={username} required maxlength={64} autocomplete="username" />
        <label for="password">
          Password <span class="hint">at least {MIN_PASSWORD_LENGTH} characters</span>
        </label>
        <input
          id="password"
          name="password"
          type="password"
          required
          minlength={MIN_PASSWORD_LENGTH}
          maxlength={200}
          autocomplete="new-password"
        />
        <p>
          <button type="submit">Create admin</button>
        </p>
      </form>
    </Layout>
  );
}

/** The login form. */
export function LoginPage({ username = '', flash }: { username?: string; flash?: Flash }) {
  return (
    <Layout title="Log in" flash={flash}>
      <form method="post" action="/console/login" class="card narrow">
        <label for="username">Username</label>
        <input id="username" name="username" value={username} required maxlength={64} autocomplete="username" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" required maxlength={200} autocomplete="current-password" />
        <p>
          <button type="submit">Log in</button>
        </p>
      </form>
    </Layout>
  );
}
