/**
 * The error codes of the signer's HTTP API and the HTTP status each maps to: the one list the
 * signer throws (signer/errors.ts ApiError) and clients switch on. Every error body is the seed's
 * envelope with a code beside the message: `{success: false, data: null, error: "what to fix", code}`.
 * A code never changes meaning; add one for a new condition rather than reusing a message.
 */

/** Error codes and their HTTP statuses. */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  /** The policy guard refused a clear-text input: personal data its data level does not let out (the message names each rule and field). */
  policy_refused: 422,
  /** An L2 input in clear text, and no node an admin marked trusted serves the model right now: retry later, or send it encrypted. */
  policy_needs_trusted_node: 503,
  /** An L2 input in clear text on a signer that runs none (`guard.l2_clear_text = "refuse"`): send it encrypted. */
  policy_needs_encryption: 422,
  too_many_requests: 429,
  // Encrypted tasks (issue 14).
  /** No online node serves this model, so there is no key to seal an input to: retry later. */
  no_node_available: 503,
  /** No such reservation for this requester, or it expired: ask for a new one (POST /api/v1/reservations). */
  reservation_not_found: 404,
  /** The node is not one this reservation offered: seal only to the nodes it lists. */
  node_not_reserved: 409,
  /** An encrypted task's result without a valid signature over its sealed output, or an output that is not a cipher object. */
  sealed_output_invalid: 400,
  /** A clear upload under the input hash of an encrypted task: its input is uploaded sealed to each reserved node only. */
  sealed_input_required: 409,
  unavailable: 503,
  internal: 500,
  gateway_timeout: 504,
  /** No route has this method and path: see /openapi.json for the API. */
  route_not_found: 404,
  /** A JSON body that does not parse. */
  invalid_json: 400,
  /** A signed node request from a node id the signer does not know (it lost its state, or the node never
   * registered): register (POST /api/v1/nodes/register), then try again. */
  node_not_registered: 404,
  /** The node missed its heartbeats and was marked offline: heartbeat with status "online", then pull. */
  node_offline: 409,
  /** No task with this id (on-chain tasks appear once their submit-task transaction is confirmed). */
  task_not_found: 404,
  /** The task's current status does not allow what was asked (e.g. a result for a task not leased to this node). */
  task_conflict: 409,
  // Who may read a result and upload blobs (issue 12): each refusal has its own code, so a client
  // can tell "sign it" from "wrong wallet" from "wait" from "never".
  /** A result or an upload needs a requester signature (REQUESTER_AUTH_HEADERS) and none was sent. */
  requester_signature_required: 401,
  /** The requester signature is malformed, stale, replayed, not canonical, or does not verify. */
  requester_signature_invalid: 401,
  /** Signed by a key whose principal is not the task's requester. */
  not_requester: 403,
  /** The task's settlement is not confirmed on chain yet: poll its status and ask again once settled. */
  result_not_settled: 409,
  /** The task timed out, failed or was refunded: its result is never released. */
  result_withheld: 410,
  /** An anonymous upload: sign it as a requester, or (for a model file) as its owner or from an admin session. */
  upload_signature_required: 401,
  /** A model file signed by a key that does not own the model named in the request. */
  not_model_owner: 403,
  /** A model file whose sha256 is not the artifact of the model's live version on chain (deploy or upgrade first). */
  artifact_not_registered: 409,
  /** This requester already holds as many inputs (or bytes) not yet named by any task as it may. */
  upload_cap_exceeded: 429,
  /** The signer holds as many bytes of inputs not yet named by any task as it may, from all requesters. */
  uploads_full: 503,
  /**
   * The node key has no active bond in the escrow contract (none, unbonding or slashed): bond a stake,
   * then register.
   */
  node_not_bonded: 403,
  /**
   * A node signature (of a request or a result) that is not canonical: s above n/2, or a recovery byte
   * other than 00 or 01.
   */
  signature_not_canonical: 401,
  /** A signed node request whose (r, s) was already used, whatever its recovery byte: sign every request afresh. */
  signature_replayed: 401,
  /** Creating the console's admin needs the one-time setup token the signer printed at start, and none was sent. */
  setup_token_required: 401,
  /** The setup token sent does not match the one the signer made. */
  setup_token_invalid: 401,
  // Prepaid accounts (signer/accounts, issue 13). Per-request refusals of POST /api/v1/requests carry these codes in
  // their result item; the others are the routes' statuses.
  /** This signer takes no prepaid requests (accounts.enabled, or no chain). */
  accounts_disabled: 404,
  /** The account has never deposited in this signer's accounts contract. */
  account_not_found: 404,
  /** A request item is malformed (its field names what). */
  request_invalid: 400,
  /** public_key's principal is not the request's account. */
  account_key_mismatch: 400,
  /** The request (or authorization) names another market than this signer's accounts contract. */
  wrong_market: 400,
  /** The account key's signature of the request does not verify, or is not canonical. */
  request_signature_invalid: 400,
  /** The request's expiry has passed. */
  request_expired: 400,
  /** The account already used this nonce for another request. */
  nonce_used: 409,
  /** model_output is not a live model version in the registry. */
  model_not_live: 404,
  /** price x security is above the request's max_fee. */
  max_fee_too_low: 400,
  /** The quote sent is not one this signer signed for this account and model, or it expired. */
  quote_invalid: 400,
  /** No input_base64 and no stored input with the request's input_hash. */
  input_missing: 400,
  /** input_base64's sha256 is not the request's input_hash. */
  input_mismatch: 400,
  /** The account's deposit, less what it owes and what is reserved, is below the request's max_fee. */
  insufficient_deposit: 402,
  /**
   * A token bound to a prepaid account: the allowance the account signed (its cap) less what it owes and
   * what running token calls hold does not cover this call.
   */
  allowance_exhausted: 402,
  /** The account asked to withdraw: the signer takes no more requests from it. */
  account_withdrawing: 403,
  /** The result exists but is not paid for: sign an authorization covering its leaf. */
  payment_required: 402,
  /** The request is still running. */
  result_not_ready: 409,
  /** The request failed or expired before a node ran it: nothing is charged, no result exists. */
  request_failed: 410,
  /** The spend authorization's signature does not verify with the account's key, or it names another account. */
  authorization_invalid: 400,
  /** The authorization's nonce is not above the latest one the signer holds. */
  nonce_too_low: 409,
  /** The authorization's cap does not cover the previous cap plus the fees it pays for. */
  cap_too_low: 400,
  /** receipts_root is not the Merkle root of the paid leaves in task_ids order. */
  root_mismatch: 400,
  /** A task_id is not a due (unpaid) receipt of this account. */
  not_due: 409,
} as const;

/** A stable, machine-readable reason for a refusal. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** True when `code` is one of ERROR_STATUS's codes (a client reading a body it did not make). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}
