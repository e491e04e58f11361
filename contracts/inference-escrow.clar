;; inference-escrow: task fees held in escrow, batched signature-checked settlement, refunds.
;;
;; A requester escrows a fee for one inference on a live model output. An authorized signer
;; settles batches of results: each result carries a node's SIP-018 signature over
;; {escrow, task-id, input-hash, output-hash}, and the fee is split between the node (paid to the
;; principal of its key), the model owner and the treasury. A task not settled by its deadline
;; is refunded to its requester by anyone who calls `reclaim`.
;;
;; Task status codes: u0 pending, u1 paid, u2 refunded. Only pending tasks change status, and
;; only once, so no task is paid twice or both paid and refunded.

;; caller is not the admin
(define-constant ERR_NOT_ADMIN (err u2001))
;; caller is not an authorized signer
(define-constant ERR_NOT_SIGNER (err u2002))
;; caller is not the proposed admin
(define-constant ERR_NOT_PENDING_ADMIN (err u2003))
;; no model output with that id in model-registry
(define-constant ERR_MODEL_NOT_FOUND (err u2004))
;; the model output was spent (upgraded, transferred, retired): submit to the model's head
(define-constant ERR_MODEL_NOT_LIVE (err u2005))
;; fee is below the model output's price
(define-constant ERR_FEE_BELOW_PRICE (err u2006))
;; fee is zero
(define-constant ERR_ZERO_FEE (err u2007))
;; max-blocks is zero or above the admin's maximum (see get-config)
(define-constant ERR_INVALID_MAX_BLOCKS (err u2008))
;; privacy is not 0 (standard), 1 (encrypted) or 2 (federated)
(define-constant ERR_INVALID_PRIVACY (err u2009))
;; priority is above 255
(define-constant ERR_INVALID_PRIORITY (err u2010))
;; a hash is not 32 bytes
(define-constant ERR_INVALID_HASH (err u2011))
;; no task with that id
(define-constant ERR_TASK_NOT_FOUND (err u2012))
;; the task was already paid or refunded
(define-constant ERR_TASK_NOT_PENDING (err u2013))
;; the task's deadline has passed: it can only be reclaimed
(define-constant ERR_DEADLINE_PASSED (err u2014))
;; the task's deadline has not passed yet: it cannot be reclaimed
(define-constant ERR_DEADLINE_NOT_REACHED (err u2015))
;; the signature is not by node-pubkey over this task's result
(define-constant ERR_INVALID_SIGNATURE (err u2016))
;; owner-bps + treasury-bps is above 10000
(define-constant ERR_INVALID_SHARES (err u2017))
;; an STX transfer out of escrow failed (escrow short of funds: never expected)
(define-constant ERR_TRANSFER_FAILED (err u2018))
;; the caller's STX balance is below the fee
(define-constant ERR_INSUFFICIENT_FUNDS (err u2019))
;; the escrow contract itself cannot be the treasury or a model owner: it cannot pay itself
(define-constant ERR_ESCROW_AS_PAYEE (err u2020))
;; a packed item is not 138 bytes (8 task id, 32 output hash, 33 public key, 65 signature)
(define-constant ERR_MALFORMED_ITEM (err u2021))

(define-constant STATUS_PENDING u0)
(define-constant STATUS_PAID u1)
(define-constant STATUS_REFUNDED u2)
(define-constant BPS u10000)
(define-constant MAX_PRIORITY u255)
(define-constant PRIVACY_MODES u3)

(define-constant SELF (as-contract tx-sender))
;; SIP-018: "SIP018" ++ sha256(domain) ++ sha256(message)
(define-constant SIP018_PREFIX 0x534950303138)
(define-constant DOMAIN_HASH (sha256 (unwrap-panic (to-consensus-buff? {
  name: "inference-escrow",
  version: "1",
  chain-id: chain-id,
}))))

(define-data-var admin principal tx-sender)
(define-data-var pending-admin (optional principal) none)
(define-data-var treasury principal tx-sender)
(define-data-var cfg-owner-bps uint u1000)
(define-data-var cfg-treasury-bps uint u500)
(define-data-var cfg-max-blocks uint u1000)
(define-data-var last-task-id uint u0)

;; Running totals in micro-STX; deposited = paid + refunded + escrowed at all times.
(define-data-var total-deposited uint u0)
(define-data-var total-paid uint u0)
(define-data-var total-refunded uint u0)
(define-data-var total-escrowed uint u0)

(define-map signers principal bool)
(map-set signers tx-sender true)

(define-map tasks
  uint
  {
    requester: principal,
    model-output: uint,
    model: (string-ascii 64),
    artifact-hash: (buff 32),
    owner: principal,
    input-hash: (buff 32),
    fee: uint,
    deadline: uint,
    privacy: uint,
    priority: uint,
    status: uint,
    node: (optional principal),
    output-hash: (optional (buff 32)),
  }
)

;; ---------------------------------------------------------------------------------------------
;; Submitting and reclaiming

;; Escrows `fee` from the caller for one inference on a live model output. The deadline is the
;; current stacks block height + max-blocks; the task can be settled up to and including it.
(define-public (submit-task
    (model-output uint)
    (input-hash (buff 32))
    (fee uint)
    (max-blocks uint)
    (privacy uint)
    (priority uint)
  )
  (let (
      (output (unwrap! (contract-call? .model-registry get-output model-output)
        ERR_MODEL_NOT_FOUND
      ))
      (id (+ (var-get last-task-id) u1))
      (deadline (+ stacks-block-height max-blocks))
    )
    (asserts! (not (get spent output)) ERR_MODEL_NOT_LIVE)
    (asserts! (not (is-eq (get owner output) SELF)) ERR_ESCROW_AS_PAYEE)
    (asserts! (> fee u0) ERR_ZERO_FEE)
    (asserts! (>= fee (get price output)) ERR_FEE_BELOW_PRICE)
    (asserts! (is-eq (len input-hash) u32) ERR_INVALID_HASH)
    (asserts! (and (> max-blocks u0) (<= max-blocks (var-get cfg-max-blocks)))
      ERR_INVALID_MAX_BLOCKS
    )
    (asserts! (< privacy PRIVACY_MODES) ERR_INVALID_PRIVACY)
    (asserts! (<= priority MAX_PRIORITY) ERR_INVALID_PRIORITY)
    (unwrap! (stx-transfer? fee tx-sender SELF) ERR_INSUFFICIENT_FUNDS)
    (var-set last-task-id id)
    (var-set total-deposited (+ (var-get total-deposited) fee))
    (var-set total-escrowed (+ (var-get total-escrowed) fee))
    (map-set tasks id {
      requester: tx-sender,
      model-output: model-output,
      model: (get model output),
      artifact-hash: (get artifact-hash output),
      owner: (get owner output),
      input-hash: input-hash,
      fee: fee,
      deadline: deadline,
      privacy: privacy,
      priority: priority,
      status: STATUS_PENDING,
      node: none,
      output-hash: none,
    })
    (print {
      event: "task-submitted",
      task-id: id,
      requester: tx-sender,
      model-output: model-output,
      model: (get model output),
      artifact-hash: (get artifact-hash output),
      owner: (get owner output),
      input-hash: input-hash,
      fee: fee,
      deadline: deadline,
      privacy: privacy,
      priority: priority,
    })
    (ok id)
  )
)

;; Refunds a pending task's fee to its requester once its deadline has passed. Anyone may call.
(define-public (reclaim (task-id uint))
  (let ((task (unwrap! (map-get? tasks task-id) ERR_TASK_NOT_FOUND)))
    (asserts! (is-eq (get status task) STATUS_PENDING) ERR_TASK_NOT_PENDING)
    (asserts! (> stacks-block-height (get deadline task)) ERR_DEADLINE_NOT_REACHED)
    (unwrap! (as-contract (stx-transfer? (get fee task) tx-sender (get requester task)))
      ERR_TRANSFER_FAILED
    )
    (map-set tasks task-id (merge task { status: STATUS_REFUNDED }))
    (var-set total-refunded (+ (var-get total-refunded) (get fee task)))
    (var-set total-escrowed (- (var-get total-escrowed) (get fee task)))
    (print {
      event: "task-reclaimed",
      task-id: task-id,
      requester: (get requester task),
      fee: (get fee task),
    })
    (ok (get fee task))
  )
)

;; ---------------------------------------------------------------------------------------------
;; Settlement

;; The 32 bytes a node signs for a task result (SIP-018 structured data hash).
(define-read-only (task-result-hash
    (task-id uint)
    (input-hash (buff 32))
    (output-hash (buff 32))
  )
  (sha256 (concat SIP018_PREFIX
    (concat DOMAIN_HASH
      (sha256 (unwrap-panic (to-consensus-buff? {
        escrow: SELF,
        task-id: task-id,
        input-hash: input-hash,
        output-hash: output-hash,
      })))
    )))
)

;; Checks one item and, if it is good, marks its task paid and prints `task-completed`.
;; Returns who gets what, or the item's error code.
(define-private (settle-item (item {
  task-id: uint,
  output-hash: (buff 32),
  node-pubkey: (buff 33),
  signature: (buff 65),
}))
  (let (
      (task-id (get task-id item))
      (task (unwrap! (map-get? tasks task-id) ERR_TASK_NOT_FOUND))
      (fee (get fee task))
    )
    (asserts! (is-eq (get status task) STATUS_PENDING) ERR_TASK_NOT_PENDING)
    (asserts! (<= stacks-block-height (get deadline task)) ERR_DEADLINE_PASSED)
    (asserts! (is-eq (len (get output-hash item)) u32) ERR_INVALID_HASH)
    (asserts!
      (secp256k1-verify
        (task-result-hash task-id (get input-hash task) (get output-hash item))
        (get signature item) (get node-pubkey item)
      )
      ERR_INVALID_SIGNATURE
    )
    (let (
        ;; a key that verified a signature always has a principal
        (node (unwrap! (principal-of? (get node-pubkey item)) ERR_INVALID_SIGNATURE))
        (owner-cut (/ (* fee (var-get cfg-owner-bps)) BPS))
        (treasury-cut (/ (* fee (var-get cfg-treasury-bps)) BPS))
        (node-cut (- fee (+ owner-cut treasury-cut)))
      )
      (map-set tasks task-id
        (merge task {
          status: STATUS_PAID,
          node: (some node),
          output-hash: (some (get output-hash item)),
        })
      )
      (print {
        event: "task-completed",
        task-id: task-id,
        node: node,
        node-pubkey: (get node-pubkey item),
        output-hash: (get output-hash item),
        fee: fee,
        node-payout: node-cut,
        owner: (get owner task),
        owner-payout: owner-cut,
        treasury: (var-get treasury),
        treasury-payout: treasury-cut,
      })
      (ok {
        node: node,
        node-cut: node-cut,
        owner: (get owner task),
        owner-cut: owner-cut,
        treasury-cut: treasury-cut,
      })
    )
  )
)

;; Transfers `amount` out of escrow unless it is zero; false if the transfer failed.
(define-private (pay-out (who principal) (amount uint))
  (or (is-eq amount u0) (is-ok (as-contract (stx-transfer? amount tx-sender who))))
)

;; Folds settled items into payouts. Consecutive items for the same node (or owner) add up to one
;; transfer, and the treasury gets one transfer per batch: the accumulator stays a few words wide,
;; because Clarity charges every private call by the declared size of its arguments.
(define-private (pay-run
    (settled (response {
      node: principal,
      node-cut: uint,
      owner: principal,
      owner-cut: uint,
      treasury-cut: uint,
    } uint))
    (acc {
      node: principal,
      node-amount: uint,
      owner: principal,
      owner-amount: uint,
      treasury-amount: uint,
      paid: uint,
      ok: bool,
    })
  )
  (match settled
    s (let (
        (same-node (is-eq (get node s) (get node acc)))
        (same-owner (is-eq (get owner s) (get owner acc)))
      )
      {
        node: (get node s),
        node-amount: (if same-node (+ (get node-amount acc) (get node-cut s)) (get node-cut s)),
        owner: (get owner s),
        owner-amount: (if same-owner (+ (get owner-amount acc) (get owner-cut s)) (get owner-cut s)),
        treasury-amount: (+ (get treasury-amount acc) (get treasury-cut s)),
        paid: (+ (get paid acc) (get node-cut s) (get owner-cut s) (get treasury-cut s)),
        ok: (and (get ok acc)
          (or same-node (pay-out (get node acc) (get node-amount acc)))
          (or same-owner (pay-out (get owner acc) (get owner-amount acc)))
        ),
      }
    )
    code acc
  )
)

(define-private (item-result (settled (response {
  node: principal,
  node-cut: uint,
  owner: principal,
  owner-cut: uint,
  treasury-cut: uint,
} uint)))
  (match settled
    s (ok (get node-cut s))
    code (err code)
  )
)

;; The fold's starting accumulator: no payee yet (SELF is never paid; zero amounts are skipped).
(define-constant BATCH_START {
  node: SELF,
  node-amount: u0,
  owner: SELF,
  owner-amount: u0,
  treasury-amount: u0,
  paid: u0,
  ok: true,
})

;; Makes the last transfers of a batch and books its total. Takes only the small accumulator:
;; passing the settled list itself would cost ~180k runtime per batch in argument checks.
(define-private (finish-batch (acc {
  node: principal,
  node-amount: uint,
  owner: principal,
  owner-amount: uint,
  treasury-amount: uint,
  paid: uint,
  ok: bool,
}))
  (begin
    (asserts!
      (and (get ok acc)
        (pay-out (get node acc) (get node-amount acc))
        (pay-out (get owner acc) (get owner-amount acc))
        (pay-out (var-get treasury) (get treasury-amount acc))
      )
      ERR_TRANSFER_FAILED
    )
    (var-set total-paid (+ (var-get total-paid) (get paid acc)))
    (ok (var-set total-escrowed (- (var-get total-escrowed) (get paid acc))))
  )
)

(define-private (check-signer)
  (ok (asserts! (default-to false (map-get? signers contract-caller)) ERR_NOT_SIGNER))
)

;; Settles a batch of signed results. Authorized signers only. Returns one result per item:
;; (ok node-payout) or (err code); a bad item is skipped and never sinks the batch.
;; Order items by node to pay each node once per batch.
(define-public (complete-tasks (items (list 200 {
  task-id: uint,
  output-hash: (buff 32),
  node-pubkey: (buff 33),
  signature: (buff 65),
})))
  (let ((settled (begin
      (try! (check-signer))
      (map settle-item items)
    )))
    (try! (finish-batch (fold pay-run settled BATCH_START)))
    (ok (map item-result settled))
  )
)

;; Splits a packed item: task id (8 bytes, big-endian), output hash, node public key, signature.
(define-private (unpack (packed (buff 138)))
  (if (is-eq (len packed) u138)
    (ok {
      task-id: (buff-to-uint-be (unwrap-panic (as-max-len? (unwrap-panic (slice? packed u0 u8)) u16))),
      output-hash: (unwrap-panic (as-max-len? (unwrap-panic (slice? packed u8 u40)) u32)),
      node-pubkey: (unwrap-panic (as-max-len? (unwrap-panic (slice? packed u40 u73)) u33)),
      signature: (unwrap-panic (as-max-len? (unwrap-panic (slice? packed u73 u138)) u65)),
    })
    ERR_MALFORMED_ITEM
  )
)

(define-private (settle-packed (packed (buff 138)))
  (match (unpack packed)
    item (settle-item item)
    code (err code)
  )
)

;; complete-tasks with each item packed into one 138-byte buffer: about 30% fewer transaction
;; bytes per task, the same checks and results (a malformed item gets ERR_MALFORMED_ITEM).
(define-public (complete-tasks-packed (items (list 200 (buff 138))))
  (let ((settled (begin
      (try! (check-signer))
      (map settle-packed items)
    )))
    (try! (finish-batch (fold pay-run settled BATCH_START)))
    (ok (map item-result settled))
  )
)

;; ---------------------------------------------------------------------------------------------
;; Administration

(define-private (check-admin)
  (ok (asserts! (is-eq contract-caller (var-get admin)) ERR_NOT_ADMIN))
)

;; Authorizes or de-authorizes a signer (who may call complete-tasks).
(define-public (set-signer
    (who principal)
    (enabled bool)
  )
  (begin
    (try! (check-admin))
    (if enabled
      (map-set signers who true)
      (map-delete signers who)
    )
    (print {
      event: "signer-set",
      who: who,
      enabled: enabled,
    })
    (ok true)
  )
)

;; Sets the model owner's and the treasury's shares of each fee, in basis points; the node
;; gets the rest.
(define-public (set-shares
    (owner-bps uint)
    (treasury-bps uint)
  )
  (begin
    (try! (check-admin))
    (asserts! (<= (+ owner-bps treasury-bps) BPS) ERR_INVALID_SHARES)
    (var-set cfg-owner-bps owner-bps)
    (var-set cfg-treasury-bps treasury-bps)
    (print {
      event: "shares-set",
      owner-bps: owner-bps,
      treasury-bps: treasury-bps,
    })
    (ok true)
  )
)

;; Sets who receives the treasury share.
(define-public (set-treasury (who principal))
  (begin
    (try! (check-admin))
    (asserts! (not (is-eq who SELF)) ERR_ESCROW_AS_PAYEE)
    (var-set treasury who)
    (print {
      event: "treasury-set",
      treasury: who,
    })
    (ok true)
  )
)

;; Sets the largest max-blocks a task may ask for (its longest time to deadline).
(define-public (set-max-blocks (blocks uint))
  (begin
    (try! (check-admin))
    (asserts! (> blocks u0) ERR_INVALID_MAX_BLOCKS)
    (var-set cfg-max-blocks blocks)
    (print {
      event: "max-blocks-set",
      max-blocks: blocks,
    })
    (ok true)
  )
)

;; First step of an admin transfer: the proposed admin must then call accept-admin.
(define-public (propose-admin (who principal))
  (begin
    (try! (check-admin))
    (var-set pending-admin (some who))
    (print {
      event: "admin-proposed",
      who: who,
    })
    (ok true)
  )
)

;; Second step of an admin transfer, by the proposed admin.
(define-public (accept-admin)
  (begin
    (asserts! (is-eq (some contract-caller) (var-get pending-admin)) ERR_NOT_PENDING_ADMIN)
    (var-set admin contract-caller)
    (var-set pending-admin none)
    (print {
      event: "admin-accepted",
      admin: contract-caller,
    })
    (ok true)
  )
)

;; ---------------------------------------------------------------------------------------------
;; Reading

;; A task with its status (u0 pending, u1 paid, u2 refunded); none if unknown.
(define-read-only (get-task (task-id uint))
  (map-get? tasks task-id)
)

;; Current settings and the id of the latest task.
(define-read-only (get-config)
  {
    admin: (var-get admin),
    pending-admin: (var-get pending-admin),
    treasury: (var-get treasury),
    owner-bps: (var-get cfg-owner-bps),
    treasury-bps: (var-get cfg-treasury-bps),
    max-blocks: (var-get cfg-max-blocks),
    last-task-id: (var-get last-task-id),
  }
)

;; Running totals in micro-STX: deposited = paid + refunded + escrowed.
(define-read-only (get-totals)
  {
    deposited: (var-get total-deposited),
    paid: (var-get total-paid),
    refunded: (var-get total-refunded),
    escrowed: (var-get total-escrowed),
  }
)

;; True if `who` may call complete-tasks.
(define-read-only (is-signer (who principal))
  (default-to false (map-get? signers who))
)
