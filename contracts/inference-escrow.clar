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
;;
;; Trust: only nodes that bonded a stake under their key are paid (the node registry section
;; below). A task asks for a security level at submission: level 1 is one node (the signer
;; re-runs a share of them on a second node), levels 3 and 5 are run by that many nodes. Results
;; that disagree are settled by `settle-redundant`, which pays the nodes of the majority and
;; slashes the stake of the others. The fee terms (shares, treasury, sampling rate) are copied
;; into each task when it is submitted, so an admin change applies to later tasks only.

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
;; (u2021 was ERR_MALFORMED_ITEM of the removed complete-tasks-packed: not reused, so old logs still read right)
;; security is not 1, 3 or 5
(define-constant ERR_INVALID_SECURITY (err u2022))
;; max-blocks is below the admin's minimum (see get-config): too short for the signer to settle
(define-constant ERR_MAX_BLOCKS_TOO_LOW (err u2023))
;; the signature is not canonical: its s is high or its recovery byte is not 0 or 1
(define-constant ERR_NON_CANONICAL_SIGNATURE (err u2024))
;; the node key has no bond in the registry, was slashed, or withdrew its stake
(define-constant ERR_NODE_NOT_BONDED (err u2025))
;; a task of security level 3 or 5 is settled through settle-redundant only
(define-constant ERR_NEEDS_REDUNDANCY (err u2026))
;; settle-redundant got fewer results than the task's level asks (2 at level 1)
(define-constant ERR_TOO_FEW_RESULTS (err u2027))
;; the same node key appears twice among one task's results
(define-constant ERR_DUPLICATE_NODE (err u2028))
;; no output hash is signed by more than half of the results
(define-constant ERR_NO_MAJORITY (err u2029))
;; sample-bps is 0 or above 10000
(define-constant ERR_INVALID_SAMPLE_RATE (err u2030))

;; Node registry errors (u2050-u2069)
;; the caller is not the principal of the public key it bonds or manages
(define-constant ERR_NOT_KEY_OWNER (err u2050))
;; the stake is below the minimum (see get-config), or the amount is zero
(define-constant ERR_STAKE_TOO_LOW (err u2051))
;; no bond under that key
(define-constant ERR_NODE_NOT_FOUND (err u2052))
;; the key was slashed: it can never bond again
(define-constant ERR_NODE_SLASHED (err u2053))
;; the key is unbonding: withdraw first, then bond again
(define-constant ERR_NODE_UNBONDING (err u2054))
;; the key is still bonded: announce unbond-node first
(define-constant ERR_NODE_ACTIVE (err u2055))
;; the unbonding delay has not passed yet (see get-node for withdraw-at)
(define-constant ERR_WITHDRAW_TOO_EARLY (err u2056))
;; the public key is not 33 bytes
(define-constant ERR_INVALID_KEY (err u2057))

(define-constant STATUS_PENDING u0)
(define-constant STATUS_PAID u1)
(define-constant STATUS_REFUNDED u2)
(define-constant BPS u10000)
(define-constant MAX_PRIORITY u255)
(define-constant PRIVACY_MODES u3)
(define-constant NODE_ACTIVE u0)
(define-constant NODE_UNBONDING u1)
(define-constant NODE_SLASHED u2)
;; Half the secp256k1 group order: a signature with a larger s is a malleated copy of a low-s one.
(define-constant HALF_N 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0)

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
;; No task submitted under an earlier, longer max-blocks has a deadline past this height: a stake
;; stays locked past it too, so lowering max-blocks never frees a stake before the deadline of a
;; task its key could have signed for.
(define-data-var deadline-horizon uint u0)
(define-data-var cfg-min-blocks uint u5)
;; Share of level-1 tasks the signer re-runs on a second node; a slash takes fee / rate.
(define-data-var cfg-sample-bps uint u500)
(define-data-var cfg-min-stake uint u1000000)
(define-data-var last-task-id uint u0)

;; Running totals in micro-STX; deposited = paid + refunded + escrowed at all times.
(define-data-var total-deposited uint u0)
(define-data-var total-paid uint u0)
(define-data-var total-refunded uint u0)
(define-data-var total-escrowed uint u0)
;; Stakes in micro-STX; bonded = locked + withdrawn + slashed at all times. Slashed stake is paid
;; out to requesters and honest nodes, never kept.
(define-data-var total-bonded uint u0)
(define-data-var total-stake-locked uint u0)
(define-data-var total-withdrawn uint u0)
(define-data-var total-slashed uint u0)

;; Node keys with a stake. status: u0 active, u1 unbonding, u2 slashed. A withdrawn key that was
;; never slashed is deleted (it may bond again); a slashed key stays, so it never comes back.
(define-map nodes
  (buff 33)
  {
    operator: principal,
    stake: uint,
    status: uint,
    withdraw-at: uint,
  }
)

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
    security: uint,
    ;; the model output's precision: nodes round float outputs to it before hashing
    precision: uint,
    owner-bps: uint,
    treasury-bps: uint,
    treasury: principal,
    sample-bps: uint,
    status: uint,
    node: (optional principal),
    output-hash: (optional (buff 32)),
  }
)

;; ---------------------------------------------------------------------------------------------
;; Submitting and reclaiming

;; Escrows `fee` from the caller for one inference on a live model output. The deadline is the
;; current stacks block height + max-blocks; the task can be settled up to and including it.
;; `security` is how many nodes must agree (1, 3 or 5); the fee covers that many runs. The
;; current shares, treasury and sampling rate become the task's terms for good.
(define-public (submit-task
    (model-output uint)
    (input-hash (buff 32))
    (fee uint)
    (max-blocks uint)
    (privacy uint)
    (priority uint)
    (security uint)
  )
  (let (
      (output (unwrap! (contract-call? .model-registry get-output model-output)
        ERR_MODEL_NOT_FOUND
      ))
      (id (+ (var-get last-task-id) u1))
      (deadline (+ stacks-block-height max-blocks))
      (terms {
        owner-bps: (var-get cfg-owner-bps),
        treasury-bps: (var-get cfg-treasury-bps),
        treasury: (var-get treasury),
        sample-bps: (var-get cfg-sample-bps),
      })
    )
    (asserts! (not (get spent output)) ERR_MODEL_NOT_LIVE)
    (asserts! (not (is-eq (get owner output) SELF)) ERR_ESCROW_AS_PAYEE)
    (asserts! (> fee u0) ERR_ZERO_FEE)
    (asserts! (or (is-eq security u1) (is-eq security u3) (is-eq security u5))
      ERR_INVALID_SECURITY
    )
    (asserts! (>= fee (* security (get price output))) ERR_FEE_BELOW_PRICE)
    (asserts! (is-eq (len input-hash) u32) ERR_INVALID_HASH)
    (asserts! (and (> max-blocks u0) (<= max-blocks (var-get cfg-max-blocks)))
      ERR_INVALID_MAX_BLOCKS
    )
    (asserts! (>= max-blocks (var-get cfg-min-blocks)) ERR_MAX_BLOCKS_TOO_LOW)
    (asserts! (< privacy PRIVACY_MODES) ERR_INVALID_PRIVACY)
    (asserts! (<= priority MAX_PRIORITY) ERR_INVALID_PRIORITY)
    (unwrap! (stx-transfer? fee tx-sender SELF) ERR_INSUFFICIENT_FUNDS)
    (var-set last-task-id id)
    (var-set total-deposited (+ (var-get total-deposited) fee))
    (var-set total-escrowed (+ (var-get total-escrowed) fee))
    (map-set tasks id (merge terms {
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
      security: security,
      precision: (get precision output),
      status: STATUS_PENDING,
      node: none,
      output-hash: none,
    }))
    (print (merge terms {
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
      security: security,
      precision: (get precision output),
    }))
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

;; True if a signature is in the one form an honest signer makes: low s, recovery byte 0 or 1.
;; secp256k1-verify also takes the high-s twin and recovery bytes 2 and 3, which would let one
;; result travel under several signatures.
(define-read-only (is-canonical-signature (signature (buff 65)))
  (and
    (< (default-to 0xff (element-at? signature u64)) 0x02)
    (<= (default-to 0xff (slice? signature u32 u64)) HALF_N)
  )
)

;; The principal paid for a node key's results: its operator, if the key is bonded (active or
;; unbonding, its stake still locked) and was never slashed.
(define-private (payable-operator (node-pubkey (buff 33)))
  (match (map-get? nodes node-pubkey)
    node (if (is-eq (get status node) NODE_SLASHED) none (some (get operator node)))
    none
  )
)

;; Checks that `signature` by `node-pubkey` signs this task's result and that the key is bonded;
;; returns the key's operator.
(define-private (check-result
    (task-id uint)
    (input-hash (buff 32))
    (output-hash (buff 32))
    (node-pubkey (buff 33))
    (signature (buff 65))
  )
  (begin
    (asserts! (is-eq (len output-hash) u32) ERR_INVALID_HASH)
    (asserts! (is-canonical-signature signature) ERR_NON_CANONICAL_SIGNATURE)
    (asserts!
      (secp256k1-verify (task-result-hash task-id input-hash output-hash) signature
        node-pubkey
      )
      ERR_INVALID_SIGNATURE
    )
    (ok (unwrap! (payable-operator node-pubkey) ERR_NODE_NOT_BONDED))
  )
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
    (asserts! (is-eq (get security task) u1) ERR_NEEDS_REDUNDANCY)
    (let (
        (node (try! (check-result task-id (get input-hash task) (get output-hash item)
          (get node-pubkey item) (get signature item)
        )))
        (owner-cut (/ (* fee (get owner-bps task)) BPS))
        (treasury-cut (/ (* fee (get treasury-bps task)) BPS))
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
        treasury: (get treasury task),
        treasury-payout: treasury-cut,
      })
      (ok {
        node: node,
        node-cut: node-cut,
        owner: (get owner task),
        owner-cut: owner-cut,
        treasury: (get treasury task),
        treasury-cut: treasury-cut,
      })
    )
  )
)

;; Transfers `amount` out of escrow unless it is zero; false if the transfer failed.
(define-private (pay-out (who principal) (amount uint))
  (or (is-eq amount u0) (is-ok (as-contract (stx-transfer? amount tx-sender who))))
)

;; Folds settled items into payouts. Consecutive items for the same node (or owner, or
;; treasury) add up to one transfer: the accumulator stays a few words wide, because Clarity
;; charges every private call by the declared size of its arguments.
(define-private (pay-run
    (settled (response {
      node: principal,
      node-cut: uint,
      owner: principal,
      owner-cut: uint,
      treasury: principal,
      treasury-cut: uint,
    } uint))
    (acc {
      node: principal,
      node-amount: uint,
      owner: principal,
      owner-amount: uint,
      treasury: principal,
      treasury-amount: uint,
      paid: uint,
      ok: bool,
    })
  )
  (match settled
    s (let (
        (same-node (is-eq (get node s) (get node acc)))
        (same-owner (is-eq (get owner s) (get owner acc)))
        (same-treasury (is-eq (get treasury s) (get treasury acc)))
      )
      {
        node: (get node s),
        node-amount: (if same-node (+ (get node-amount acc) (get node-cut s)) (get node-cut s)),
        owner: (get owner s),
        owner-amount: (if same-owner (+ (get owner-amount acc) (get owner-cut s)) (get owner-cut s)),
        treasury: (get treasury s),
        treasury-amount: (if same-treasury (+ (get treasury-amount acc) (get treasury-cut s)) (get treasury-cut s)),
        paid: (+ (get paid acc) (get node-cut s) (get owner-cut s) (get treasury-cut s)),
        ok: (and (get ok acc)
          (or same-node (pay-out (get node acc) (get node-amount acc)))
          (or same-owner (pay-out (get owner acc) (get owner-amount acc)))
          (or same-treasury (pay-out (get treasury acc) (get treasury-amount acc)))
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
  treasury: principal,
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
  treasury: SELF,
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
  treasury: principal,
  treasury-amount: uint,
  paid: uint,
  ok: bool,
}))
  (begin
    (asserts!
      (and (get ok acc)
        (pay-out (get node acc) (get node-amount acc))
        (pay-out (get owner acc) (get owner-amount acc))
        (pay-out (get treasury acc) (get treasury-amount acc))
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

;; Settles a batch of signed results of level-1 tasks. Authorized signers only. Returns one
;; result per item: (ok node-payout) or (err code); a bad item is skipped and never sinks the
;; batch. Only bonded node keys are paid. Order items by node to pay each node once per batch.
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

;; ---------------------------------------------------------------------------------------------
;; Redundant settlement: several nodes ran one task, the majority is paid, the rest are slashed

;; Counts the results that signed `hash`.
(define-private (same-hash
    (r { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) })
    (acc { hash: (buff 32), votes: uint })
  )
  (if (is-eq (get output-hash r) (get hash acc))
    (merge acc { votes: (+ (get votes acc) u1) })
    acc
  )
)

;; The number of results that agree with `r` (itself included).
(define-private (tally
    (r { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) })
    (all (list 5 { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) }))
  )
  (fold same-hash all { hash: (get output-hash r), votes: u0 })
)

;; Keeps the output hash that more than half of the `voters` results signed.
(define-private (pick-majority
    (t { hash: (buff 32), votes: uint })
    (acc { voters: uint, winner: (optional { hash: (buff 32), votes: uint }) })
  )
  (if (> (* u2 (get votes t)) (get voters acc))
    (merge acc { winner: (some t) })
    acc
  )
)

;; Checks one result of a task: a canonical, valid signature by a bonded key not seen before.
(define-private (check-vote
    (r { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) })
    (acc (response { task-id: uint, input-hash: (buff 32), keys: (list 5 (buff 33)) } uint))
  )
  (let ((a (try! acc)))
    (asserts! (is-none (index-of? (get keys a) (get node-pubkey r))) ERR_DUPLICATE_NODE)
    (try! (check-result (get task-id a) (get input-hash a) (get output-hash r)
      (get node-pubkey r) (get signature r)
    ))
    (ok (merge a { keys: (unwrap-panic (as-max-len? (append (get keys a) (get node-pubkey r)) u5)) }))
  )
)

;; Slashes a result's key unless it signed the majority's output: takes `amount` of its stake
;; (all of it if less), marks it slashed for good and starts its withdrawal delay.
(define-private (slash-minority
    (r { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) })
    (acc { task-id: uint, majority: (buff 32), amount: uint, total: uint })
  )
  (if (is-eq (get output-hash r) (get majority acc))
    acc
    (let (
        ;; check-vote found the key bonded
        (node (unwrap-panic (map-get? nodes (get node-pubkey r))))
        (taken (if (< (get stake node) (get amount acc)) (get stake node) (get amount acc)))
      )
      (map-set nodes (get node-pubkey r) (merge node {
        stake: (- (get stake node) taken),
        status: NODE_SLASHED,
        withdraw-at: (withdraw-height),
      }))
      (print {
        event: "node-slashed",
        task-id: (get task-id acc),
        node-pubkey: (get node-pubkey r),
        operator: (get operator node),
        output-hash: (get output-hash r),
        amount: taken,
      })
      (merge acc { total: (+ (get total acc) taken) })
    )
  )
)

;; Pays `amount` to the operator of each result that signed the majority's output.
(define-private (pay-majority
    (r { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) })
    (acc { majority: (buff 32), amount: uint, ok: bool, first: (optional principal) })
  )
  (if (is-eq (get output-hash r) (get majority acc))
    ;; check-vote found the key payable, and only minority keys were slashed since
    (let ((operator (unwrap-panic (payable-operator (get node-pubkey r)))))
      {
        majority: (get majority acc),
        amount: (get amount acc),
        ok: (and (get ok acc) (pay-out operator (get amount acc))),
        first: (if (is-none (get first acc)) (some operator) (get first acc)),
      }
    )
    acc
  )
)

;; Settles one task from the results of several nodes. Every check runs before the first write,
;; so a refused item changes nothing.
(define-private (settle-votes (item {
  task-id: uint,
  results: (list 5 { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) }),
}))
  (let (
      (task-id (get task-id item))
      (task (unwrap! (map-get? tasks task-id) ERR_TASK_NOT_FOUND))
      (results (get results item))
      (voters (len results))
    )
    (asserts! (is-eq (get status task) STATUS_PENDING) ERR_TASK_NOT_PENDING)
    (asserts! (<= stacks-block-height (get deadline task)) ERR_DEADLINE_PASSED)
    (asserts! (>= voters (if (is-eq (get security task) u1) u2 (get security task)))
      ERR_TOO_FEW_RESULTS
    )
    (try! (fold check-vote results
      (ok { task-id: task-id, input-hash: (get input-hash task), keys: (list) })
    ))
    (let (
        (winner (unwrap!
          (get winner (fold pick-majority (map tally results (list results results results results results))
            { voters: voters, winner: none }
          ))
          ERR_NO_MAJORITY
        ))
        (majority (get hash winner))
        (votes (get votes winner))
        (fee (get fee task))
        (owner-cut (/ (* fee (get owner-bps task)) BPS))
        (node-cut (- fee (+ owner-cut (/ (* fee (get treasury-bps task)) BPS))))
        ;; the node share's dust goes to the treasury
        (treasury-cut (- fee (+ owner-cut (* votes (/ node-cut votes)))))
        (slashed (get total (fold slash-minority results {
          task-id: task-id,
          majority: majority,
          amount: (/ (* fee BPS) (get sample-bps task)),
          total: u0,
        })))
        ;; half of the slashed stake goes to the majority's nodes, the rest to the requester
        (bounty (/ (/ slashed u2) votes))
        (compensation (- slashed (* votes bounty)))
        (paid (fold pay-majority results {
          majority: majority,
          amount: (+ (/ node-cut votes) bounty),
          ok: true,
          first: none,
        }))
      )
      (map-set tasks task-id (merge task {
        status: STATUS_PAID,
        node: (get first paid),
        output-hash: (some majority),
      }))
      (var-set total-paid (+ (var-get total-paid) fee))
      (var-set total-escrowed (- (var-get total-escrowed) fee))
      (var-set total-slashed (+ (var-get total-slashed) slashed))
      (var-set total-stake-locked (- (var-get total-stake-locked) slashed))
      (print {
        event: "task-settled-redundant",
        task-id: task-id,
        output-hash: majority,
        votes: votes,
        voters: voters,
        fee: fee,
        node-payout: (/ node-cut votes),
        owner: (get owner task),
        owner-payout: owner-cut,
        treasury: (get treasury task),
        treasury-payout: treasury-cut,
        slashed: slashed,
        node-bounty: bounty,
        requester: (get requester task),
        requester-compensation: compensation,
      })
      (ok {
        votes: votes,
        slashed: slashed,
        paid: (and (get ok paid)
          (pay-out (get owner task) owner-cut)
          (pay-out (get treasury task) treasury-cut)
          (pay-out (get requester task) compensation)
        ),
      })
    )
  )
)
;; The item's answer: (ok {votes, slashed}) or (err code).
(define-private (votes-result (settled (response { votes: uint, slashed: uint, paid: bool } uint)))
  (match settled
    s (ok { votes: (get votes s), slashed: (get slashed s) })
    code (err code)
  )
)

(define-private (votes-paid
    (settled (response { votes: uint, slashed: uint, paid: bool } uint))
    (ok-so-far bool)
  )
  (match settled
    s (and ok-so-far (get paid s))
    code ok-so-far
  )
)

;; Settles tasks that several nodes ran: level-3 and level-5 tasks, and level-1 tasks the signer
;; re-ran on a second node (or, when those two disagreed, a third). Authorized signers only. Per
;; task, every result must be a canonical signature by a distinct bonded key; the output hash
;; signed by more than half of them wins. The nodes of the majority split the node share; every
;; other key loses fee / sample-rate of its stake (all of it if less) and is out of the registry
;; for good; half of what is slashed goes to the majority's nodes, the rest to the requester.
;; Returns one result per task: (ok {votes, slashed}) or (err code); a bad task is skipped.
(define-public (settle-redundant (items (list 20 {
  task-id: uint,
  results: (list 5 { output-hash: (buff 32), node-pubkey: (buff 33), signature: (buff 65) }),
})))
  (let ((settled (begin
      (try! (check-signer))
      (map settle-votes items)
    )))
    (asserts! (fold votes-paid settled true) ERR_TRANSFER_FAILED)
    (ok (map votes-result settled))
  )
)

;; ---------------------------------------------------------------------------------------------
;; Node registry: a node is paid only while its key has a stake here

;; The larger of two heights.
(define-private (later (a uint) (b uint))
  (if (> a b) a b)
)

;; The first height at which a stake locked now may be withdrawn: past the deadline of every task
;; submitted until now, under the current max-blocks and under any longer one in force before.
(define-private (withdraw-height)
  (+ (later (+ stacks-block-height (var-get cfg-max-blocks)) (var-get deadline-horizon)) u1)
)

;; Bonds `amount` micro-STX of the caller's under `node-pubkey`, whose principal must be the
;; caller (so results signed by the key are paid to whoever staked). Bonding again adds stake.
(define-public (bond-node (node-pubkey (buff 33)) (amount uint))
  (let ((existing (map-get? nodes node-pubkey)))
    (asserts! (is-eq (len node-pubkey) u33) ERR_INVALID_KEY)
    (asserts! (is-eq (principal-of? node-pubkey) (ok tx-sender)) ERR_NOT_KEY_OWNER)
    (asserts! (> amount u0) ERR_STAKE_TOO_LOW)
    (match existing
      node (begin
        (asserts! (not (is-eq (get status node) NODE_SLASHED)) ERR_NODE_SLASHED)
        (asserts! (is-eq (get status node) NODE_ACTIVE) ERR_NODE_UNBONDING)
      )
      (asserts! (>= amount (var-get cfg-min-stake)) ERR_STAKE_TOO_LOW)
    )
    (unwrap! (stx-transfer? amount tx-sender SELF) ERR_INSUFFICIENT_FUNDS)
    (map-set nodes node-pubkey {
      operator: tx-sender,
      stake: (+ amount (default-to u0 (get stake existing))),
      status: NODE_ACTIVE,
      withdraw-at: u0,
    })
    (var-set total-bonded (+ (var-get total-bonded) amount))
    (var-set total-stake-locked (+ (var-get total-stake-locked) amount))
    (print {
      event: "node-bonded",
      node-pubkey: node-pubkey,
      operator: tx-sender,
      amount: amount,
      stake: (+ amount (default-to u0 (get stake existing))),
    })
    (ok (+ amount (default-to u0 (get stake existing))))
  )
)

;; Announces that a node stops: its stake stays locked (and slashable) until every task it could
;; have signed for is past its deadline (see withdraw-height). Its results are still paid
;; meanwhile; the signer stops giving it tasks.
(define-public (unbond-node (node-pubkey (buff 33)))
  (let ((node (unwrap! (map-get? nodes node-pubkey) ERR_NODE_NOT_FOUND)))
    (asserts! (is-eq (get operator node) tx-sender) ERR_NOT_KEY_OWNER)
    (asserts! (not (is-eq (get status node) NODE_SLASHED)) ERR_NODE_SLASHED)
    (asserts! (is-eq (get status node) NODE_ACTIVE) ERR_NODE_UNBONDING)
    (map-set nodes node-pubkey (merge node {
      status: NODE_UNBONDING,
      withdraw-at: (withdraw-height),
    }))
    (print {
      event: "node-unbonding",
      node-pubkey: node-pubkey,
      operator: tx-sender,
      withdraw-at: (withdraw-height),
    })
    (ok (withdraw-height))
  )
)

;; Pays an unbonding (or slashed) node's remaining stake back to its operator once the delay
;; has passed. An unslashed key is then forgotten and may bond again; a slashed one never.
(define-public (withdraw-stake (node-pubkey (buff 33)))
  (let (
      (node (unwrap! (map-get? nodes node-pubkey) ERR_NODE_NOT_FOUND))
      (operator (get operator node))
      (stake (get stake node))
    )
    (asserts! (is-eq operator tx-sender) ERR_NOT_KEY_OWNER)
    (asserts! (not (is-eq (get status node) NODE_ACTIVE)) ERR_NODE_ACTIVE)
    (asserts! (>= stacks-block-height (get withdraw-at node)) ERR_WITHDRAW_TOO_EARLY)
    (asserts! (pay-out operator stake) ERR_TRANSFER_FAILED)
    (if (is-eq (get status node) NODE_SLASHED)
      (map-set nodes node-pubkey (merge node { stake: u0 }))
      (map-delete nodes node-pubkey)
    )
    (var-set total-withdrawn (+ (var-get total-withdrawn) stake))
    (var-set total-stake-locked (- (var-get total-stake-locked) stake))
    (print {
      event: "stake-withdrawn",
      node-pubkey: node-pubkey,
      operator: operator,
      amount: stake,
    })
    (ok stake)
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
    (asserts! (>= blocks (var-get cfg-min-blocks)) ERR_INVALID_MAX_BLOCKS)
    ;; tasks submitted so far may have deadlines up to the old limit away
    (if (> (var-get last-task-id) u0)
      (var-set deadline-horizon (later (var-get deadline-horizon)
        (+ stacks-block-height (var-get cfg-max-blocks))
      ))
      false
    )
    (var-set cfg-max-blocks blocks)
    (print {
      event: "max-blocks-set",
      max-blocks: blocks,
    })
    (ok true)
  )
)

;; Sets the smallest max-blocks a task may ask for: long enough for the signer to run the task,
;; check it and settle it, so that a result is never both computed and refundable by design.
(define-public (set-min-blocks (blocks uint))
  (begin
    (try! (check-admin))
    (asserts! (and (> blocks u0) (<= blocks (var-get cfg-max-blocks))) ERR_INVALID_MAX_BLOCKS)
    (var-set cfg-min-blocks blocks)
    (print {
      event: "min-blocks-set",
      min-blocks: blocks,
    })
    (ok true)
  )
)

;; Sets the share of level-1 tasks the signer re-runs, in basis points. A slash takes
;; fee * 10000 / sample-bps, so a node that cheats loses more than it gains on average.
;; Tasks keep the rate they were submitted with.
(define-public (set-sample-bps (sample-bps uint))
  (begin
    (try! (check-admin))
    (asserts! (and (> sample-bps u0) (<= sample-bps BPS)) ERR_INVALID_SAMPLE_RATE)
    (var-set cfg-sample-bps sample-bps)
    (print {
      event: "sample-bps-set",
      sample-bps: sample-bps,
    })
    (ok true)
  )
)

;; Sets the smallest stake a new node key must bond.
(define-public (set-min-stake (amount uint))
  (begin
    (try! (check-admin))
    (asserts! (> amount u0) ERR_STAKE_TOO_LOW)
    (var-set cfg-min-stake amount)
    (print {
      event: "min-stake-set",
      min-stake: amount,
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
    min-blocks: (var-get cfg-min-blocks),
    sample-bps: (var-get cfg-sample-bps),
    min-stake: (var-get cfg-min-stake),
    deadline-horizon: (var-get deadline-horizon),
    last-task-id: (var-get last-task-id),
  }
)

;; Running totals in micro-STX: deposited = paid + refunded + escrowed for fees, and
;; bonded = stake-locked + withdrawn + slashed for stakes. The contract holds escrowed +
;; stake-locked.
(define-read-only (get-totals)
  {
    deposited: (var-get total-deposited),
    paid: (var-get total-paid),
    refunded: (var-get total-refunded),
    escrowed: (var-get total-escrowed),
    bonded: (var-get total-bonded),
    stake-locked: (var-get total-stake-locked),
    withdrawn: (var-get total-withdrawn),
    slashed: (var-get total-slashed),
  }
)

;; A node key's bond: operator, stake, status (u0 active, u1 unbonding, u2 slashed) and the
;; height from which its stake can be withdrawn; none if the key never bonded or withdrew.
(define-read-only (get-node (node-pubkey (buff 33)))
  (map-get? nodes node-pubkey)
)

;; True if `who` may call complete-tasks.
(define-read-only (is-signer (who principal))
  (default-to false (map-get? signers who))
)
