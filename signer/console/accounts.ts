/**
 * The admin account and its sessions. A session id is 32 random bytes handed to the browser in
 * a cookie; only its sha256 is stored, so a copy of the database cannot be used to log in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import { adminSessions, adminUsers, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

/** The logged-in admin as the guard hands it to routes (`c.var.admin`). */
export interface AdminSession {
  id: number;
  username: string;
  csrfToken: string;
}

/** Usernames: short, printable, no spaces. */
export const USERNAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

// Compared against when the username is unknown, so a login takes as long either way.
let decoyHash: Promise<string> | undefined;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Whether the console has been initialized (an admin exists). */
export function adminExists(store: SignerDatabase): boolean {
  return store.db.select({ n: sql<number>`count(*)` }).from(adminUsers).get()!.n > 0;
}

/** Creates the first admin; refused once one exists. */
export async function initAdmin(
  store: SignerDatabase,
  username: string,
  password: string,
  now = Date.now(),
): Promise<{ id: number; username: string }> {
  if (!USERNAME_PATTERN.test(username))
    throw new ApiError('bad_request', 'username must be 1-64 letters, digits or . _ @ -');
  const problem = passwordProblem(password);
  if (problem) throw new ApiError('bad_request', problem);
  const password_hash = await hashPassword(password);
  // Checked again inside the transaction: two concurrent inits must not both succeed.
  return store.sqlite.transaction(() => {
    if (adminExists(store)) throw new ApiError('conflict', 'already initialized; log in at /console/login');
    const row = store.db
      .insert(adminUsers)
      .values({ username, password_hash, created_at: now })
      .returning({ id: adminUsers.id })
      .get();
    return { id: row.id, username };
  })();
}

/** The admin whose password matches, or null. */
export async function checkPassword(
  store: SignerDatabase,
  username: string,
  password: string,
): Promise<{ id: number; username: string } | null> {
  const user = store.db.select().from(adminUsers).where(eq(adminUsers.username, username)).get();
  const matches = await verifyPassword(
    password,
    user?.password_hash ?? (await (decoyHash ??= hashPassword(randomBytes(16).toString('hex')))),
  );
  return user && matches ? { id: user.id, username: user.username } : null;
}

/** Starts a session; returns the cookie value (shown once) and the session's CSRF token. */
export function createSession(
  store: SignerDatabase,
  userId: number,
  ttlMs: number,
  now = Date.now(),
): { sessionId: string; csrfToken: string; expiresAt: number } {
  const sessionId = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = now + ttlMs;
  store.db
    .insert(adminSessions)
    .values({
      id_hash: sha256(sessionId),
      user_id: userId,
      csrf_token: csrfToken,
      created_at: now,
      expires_at: expiresAt,
    })
    .run();
  return { sessionId, csrfToken, expiresAt };
}

/** The live session a cookie value names, or null (unknown or expired; expired rows are removed). */
export function findSession(store: SignerDatabase, sessionId: string, now = Date.now()): AdminSession | null {
  store.db.delete(adminSessions).where(lte(adminSessions.expires_at, now)).run();
  const row = store.db
    .select({ id: adminUsers.id, username: adminUsers.username, csrfToken: adminSessions.csrf_token })
    .from(adminSessions)
    .innerJoin(adminUsers, eq(adminUsers.id, adminSessions.user_id))
    .where(and(eq(adminSessions.id_hash, sha256(sessionId)), gt(adminSessions.expires_at, now)))
    .get();
  return row ?? null;
}

/** Ends a session. */
export function endSession(store: SignerDatabase, sessionId: string): void {
  store.db
    .delete(adminSessions)
    .where(eq(adminSessions.id_hash, sha256(sessionId)))
    .run();
}
