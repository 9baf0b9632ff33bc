/**
 * Who is asking the portal (issue 13, "Security"). Three ways to authenticate, combinable:
 * - tokens from the environment: `SQUADFLOW_PORTAL_TOKENS="ana:s3cret,viewer-bot:t0ken:viewer"`
 *   (`name:token[:role]`, role `reviewer` by default);
 * - a file of hashed tokens (`SQUADFLOW_PORTAL_TOKENS_FILE` or `--tokens-file`): one `name role sha256-hex`
 *   per line (`#` comments), the hash being the SHA-256 of the token (`printf %s TOKEN | sha256sum`);
 * - a trusted reverse-proxy header (`SQUADFLOW_PORTAL_TRUSTED_HEADER`, e.g. `X-Forwarded-User`) naming the
 *   reviewer, for a portal only reachable through that proxy.
 * With none configured, a random local token is made for the OS user (the `dev` experience) and printed
 * as a login URL. The reviewer recorded in the audit log is always the identity found here.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";

/** What an identity may do: `reviewer` decides (review, retry, skip, pause, resume, cancel, start); `viewer` only reads. */
export type PortalRole = "reviewer" | "viewer";

/** An authenticated person (or script). */
export interface PortalIdentity {
  /** The name recorded as the actor in the audit log. */
  reviewer: string;
  role: PortalRole;
  /** How it authenticated: a session cookie made from a token, a bearer token, or the proxy header. */
  via: "session" | "bearer" | "proxy";
}

/** Errors in the portal's auth settings (bad input: nothing is started). */
export class PortalConfigError extends Error {
  readonly type = "PortalConfigError";
  constructor(message: string) {
    super(message);
    this.name = "PortalConfigError";
  }
}

/** The portal's auth settings, resolved. */
export interface PortalAuthConfig {
  /** Known tokens by the hex SHA-256 of the token. */
  tokens: Map<string, { reviewer: string; role: PortalRole }>;
  /** Lower-case name of the trusted proxy header, when configured. */
  trustedHeader?: string;
  /** A token made for this process because none was configured (printed as a login URL). */
  localToken?: string;
}

/** Hex SHA-256 of a token, as stored in a tokens file. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function role(value: string | undefined, where: string): PortalRole {
  const r = (value ?? "reviewer").trim();
  if (r !== "reviewer" && r !== "viewer")
    throw new PortalConfigError(`${where}: role must be "reviewer" or "viewer", not "${r}"`);
  return r;
}

/**
 * Parses `SQUADFLOW_PORTAL_TOKENS` (`name:token[:role]`, comma-separated) into `into`.
 * @throws PortalConfigError naming the entry (by position, never the token) that is malformed.
 */
export function parseEnvTokens(value: string, into: PortalAuthConfig["tokens"]): void {
  value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .forEach((entry, i) => {
      const [name, token, r, ...rest] = entry.split(":");
      const where = `SQUADFLOW_PORTAL_TOKENS entry ${i + 1}`;
      if (!name || !token || rest.length > 0) throw new PortalConfigError(`${where}: expected name:token[:role]`);
      if (token.length < 8)
        throw new PortalConfigError(`${where} (${name}): the token must have at least 8 characters`);
      into.set(hashToken(token), { reviewer: name, role: role(r, where) });
    });
}

/**
 * Parses a tokens file: `name role sha256-hex` per line; blank lines and `#` comments are skipped.
 * @throws PortalConfigError naming the file and line of a malformed entry.
 */
export function parseTokensFile(file: string, text: string, into: PortalAuthConfig["tokens"]): void {
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    const where = `${file}:${i + 1}`;
    const [name, r, hash, ...rest] = line.split(/\s+/);
    if (!name || !r || !hash || rest.length > 0)
      throw new PortalConfigError(`${where}: expected "name role sha256-hex"`);
    if (!/^[0-9a-f]{64}$/i.test(hash))
      throw new PortalConfigError(`${where}: the hash must be 64 hex digits (sha256 of the token)`);
    into.set(hash.toLowerCase(), { reviewer: name, role: role(r, where) });
  });
}

/** Where the auth settings come from: the environment (default `process.env`) and CLI options. */
export interface PortalAuthSources {
  env?: NodeJS.ProcessEnv;
  tokensFile?: string;
  trustedHeader?: string;
  /** Make a local token when nothing is configured (default true). */
  localFallback?: boolean;
}

/**
 * Resolves the auth settings. With no token and no trusted header configured, makes a random local token
 * for the OS user (`localToken`) unless `localFallback` is false.
 * @throws PortalConfigError for a malformed variable or file, or an unreadable file (named).
 */
export function resolvePortalAuth(src: PortalAuthSources = {}): PortalAuthConfig {
  const env = src.env ?? process.env;
  const tokens: PortalAuthConfig["tokens"] = new Map();
  if (env.SQUADFLOW_PORTAL_TOKENS) parseEnvTokens(env.SQUADFLOW_PORTAL_TOKENS, tokens);
  const file = src.tokensFile ?? env.SQUADFLOW_PORTAL_TOKENS_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new PortalConfigError(`tokens file ${file}: ${(err as Error).message}`);
    }
    parseTokensFile(file, text, tokens);
  }
  const header = (src.trustedHeader ?? env.SQUADFLOW_PORTAL_TRUSTED_HEADER)?.trim().toLowerCase();
  if (header !== undefined && !/^[a-z0-9-]+$/.test(header))
    throw new PortalConfigError(`trusted header "${header}" is not a valid header name`);
  const config: PortalAuthConfig = { tokens, ...(header ? { trustedHeader: header } : {}) };
  if (tokens.size === 0 && !header && src.localFallback !== false) {
    const token = randomBytes(24).toString("base64url");
    tokens.set(hashToken(token), { reviewer: localUser(), role: "reviewer" });
    config.localToken = token;
  }
  return config;
}

function localUser(): string {
  try {
    return userInfo().username || "local";
  } catch {
    return "local";
  }
}

/** The identity of a token, or undefined for an unknown one. */
export function identityOfToken(
  config: PortalAuthConfig,
  token: string,
  via: "session" | "bearer",
): PortalIdentity | undefined {
  const found = config.tokens.get(hashToken(token));
  return found ? { ...found, via } : undefined;
}

/** A login session (kept in memory: a restarted portal asks to log in again). */
interface Session {
  identity: PortalIdentity;
  expiresAt: number;
}

/** Sessions by random id; 12 h idle expiry. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly ttlMs = 12 * 3600_000) {}

  /** Opens a session; returns its id (the cookie's value). */
  open(identity: PortalIdentity): string {
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(id, { identity: { ...identity, via: "session" }, expiresAt: Date.now() + this.ttlMs });
    return id;
  }

  /** The identity of a live session (its expiry moved on), else undefined. */
  get(id: string | undefined): PortalIdentity | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt < Date.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    s.expiresAt = Date.now() + this.ttlMs;
    return s.identity;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}

/** A fresh CSRF token (double-submit: a cookie the page echoes in the `X-CSRF-Token` header or `_csrf` field). */
export function newCsrfToken(): string {
  return randomBytes(24).toString("base64url");
}

/** Constant-time equality of two CSRF tokens (false when either is missing). */
export function csrfMatches(cookie: string | undefined, sent: string | undefined): boolean {
  if (!cookie || !sent) return false;
  const a = Buffer.from(cookie);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}
