;; accounts: prepaid accounts settled in one transaction per period.
;;
;; A user deposits STX into an account. Off chain, the account key signs task requests and
;; cumulative spend authorizations (SIP-018, domain "inference-accounts"). The settler (the
;; marketplace's signer) runs the requests and, once per period, calls `settle-accounts` with the
;; latest authorization of each account that spent: each account is charged the difference
;; between the spend it is settled at now and its last settled spend, never above the cap it
;; signed, and the payees (node operators, model owners, treasury) are credited exactly the total
;; charged. Payees withdraw their credit with `claim` (pull payments), so one settlement writes
;; once per account and once per payee, however many tasks the period held.
;;
;; The settler posts a bond. Two kinds of challenge are paid from it:
;; - a payee holding a voucher the settler signed ("payee P is owed a cumulative C by block
;;   settle-by") that was not honoured by settle-by gets the shortfall plus a penalty;
;; - a requester holding a Merkle proof that a period's receipts root contains a leaf whose
;;   request the account never signed (or whose fee is above the request's max-fee) gets the
;;   leaf's fee plus a penalty.
;; A withdrawal waits dispute-window blocks, during which the settler settles what the account
;; owes; the bond waits settle-window + dispute-window blocks, so every voucher and period it
;; answers for can still be challenged.
;;
;; Conservation: the contract's STX balance is always
;;   (deposited - withdrawn - charged) + (credited + penalties - claimed)
;;   + (bond-posted - bond-paid - bond-withdrawn)   (see get-totals).

;; caller is not the admin (the deployer)
(define-constant ERR_NOT_ADMIN (err u3001))
;; caller is not the settler (see get-signer)
(define-constant ERR_NOT_SETTLER (err u3002))
;; the current settler still has a bond: it must withdraw it before the settler changes
(define-constant ERR_SETTLER_BONDED (err u3003))
;; the settler key's principal is not the settler principal
(define-constant ERR_KEY_MISMATCH (err u3004))
;; the public key is not 33 bytes
(define-constant ERR_INVALID_KEY (err u3005))
;; the amount is zero
(define-constant ERR_ZERO_AMOUNT (err u3006))
;; the caller's STX balance is below the amount
(define-constant ERR_INSUFFICIENT_FUNDS (err u3007))
;; the settler's bond is below min-signer-bond (see get-config): it cannot settle
(define-constant ERR_BOND_TOO_LOW (err u3008))
;; the settler has no bond to withdraw
(define-constant ERR_NO_BOND (err u3009))
;; withdraw-bond before request-bond-withdrawal
(define-constant ERR_NO_BOND_WITHDRAWAL (err u3010))
;; the bond is still locked (see get-signer for unlock-at)
(define-constant ERR_BOND_LOCKED (err u3011))
;; the bond is being withdrawn: a period settled now could be challenged after it unlocks
(define-constant ERR_BOND_UNLOCKING (err u3012))
;; the withdrawal asks for more than the account's balance
(define-constant ERR_AMOUNT_ABOVE_BALANCE (err u3013))
;; withdraw before request-withdrawal
(define-constant ERR_NO_WITHDRAWAL (err u3014))
;; the withdrawal's dispute window has not passed (see get-account for withdraw-at)
(define-constant ERR_WITHDRAW_TOO_EARLY (err u3015))
;; the signature is not canonical: its s is high or its recovery byte is not 0 or 1
(define-constant ERR_NON_CANONICAL_SIGNATURE (err u3016))
;; the signature does not recover to the account (authorization) or the settler key (voucher)
(define-constant ERR_INVALID_SIGNATURE (err u3017))
;; the authorization's nonce is below the account's settled nonce
(define-constant ERR_NONCE_TOO_LOW (err u3018))
;; the spend is below the account's settled spend
(define-constant ERR_SPEND_BELOW_SETTLED (err u3019))
;; the spend is above the cumulative cap the account signed
(define-constant ERR_SPEND_ABOVE_CAP (err u3020))
;; the spend since the last settlement is above the account's balance
(define-constant ERR_BALANCE_TOO_LOW (err u3021))
;; the credits do not add up to the total charged
(define-constant ERR_CREDITS_MISMATCH (err u3022))
;; the payee has nothing to claim
(define-constant ERR_NOTHING_TO_CLAIM (err u3023))
;; the voucher's settle-by has not passed: the settler may still credit it
(define-constant ERR_CHALLENGE_TOO_EARLY (err u3024))
;; the dispute window of the voucher or period is over
(define-constant ERR_CHALLENGE_TOO_LATE (err u3025))
;; the payee was credited at least the voucher's cumulative amount
(define-constant ERR_NOTHING_OWED (err u3026))
;; no period with that id
(define-constant ERR_PERIOD_NOT_FOUND (err u3027))
;; the leaf and proof do not lead to the period's receipts root
(define-constant ERR_INVALID_PROOF (err u3028))
;; the leaf was challenged before
(define-constant ERR_ALREADY_CHALLENGED (err u3029))
;; the leaf's request is signed by its account and its fee is within max-fee
(define-constant ERR_CHALLENGE_NOT_PROVEN (err u3030))
;; a window is zero or penalty-bps is above 100000
(define-constant ERR_INVALID_CONFIG (err u3031))
;; an STX transfer out of the contract failed (never expected: see the conservation law)
(define-constant ERR_TRANSFER_FAILED (err u3032))
;; a window may be lowered only while the settler has no bond: vouchers and periods it backs were
;; promised a challenge window that a lower one would cut short
(define-constant ERR_WINDOW_LOWERED (err u3033))

(define-constant BPS u10000)
(define-constant MAX_PENALTY_BPS u100000)
;; Half the secp256k1 group order: a signature with a larger s is a malleated copy of a low-s one.
(define-constant HALF_N 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0)
(define-constant SELF (as-contract tx-sender))
;; SIP-018: sha256("SIP018" ++ sha256(domain) ++ sha256(message))
(define-constant SIP018_PREFIX 0x534950303138)
(define-constant DOMAIN_HASH (sha256 (unwrap-panic (to-consensus-buff? {
  name: "inference-accounts",
  version: "1",
  chain-id: chain-id,
}))))
;; Merkle tree domain separation: a leaf can never be mistaken for an internal node
(define-constant LEAF_PREFIX 0x00)
(define-constant NODE_PREFIX 0x01)

(define-data-var admin principal tx-sender)
(define-data-var dispute-window uint u20)
(define-data-var settle-window uint u20)
(define-data-var min-signer-bond uint u1000000)
(define-data-var penalty-bps uint u10000)
(define-data-var settler (optional principal) none)
(define-data-var settler-key (buff 33) 0x)
(define-data-var bond uint u0)
;; u0: no bond withdrawal requested
(define-data-var bond-unlock-at uint u0)
(define-data-var challenges-proven uint u0)
(define-data-var last-period uint u0)

;; Running totals in micro-STX (see the conservation law above).
(define-data-var total-deposited uint u0)
(define-data-var total-withdrawn uint u0)
(define-data-var total-charged uint u0)
(define-data-var total-credited uint u0)
(define-data-var total-penalties uint u0)
(define-data-var total-claimed uint u0)
(define-data-var total-bond-posted uint u0)
(define-data-var total-bond-paid uint u0)
(define-data-var total-bond-withdrawn uint u0)

;; An account: its balance, the cumulative spend and authorization nonce it was last settled at,
;; and its pending withdrawal (withdraw-at u0: none).
(define-map accounts
  principal
  {
    balance: uint,
    spent: uint,
    nonce: uint,
    withdraw-amount: uint,
    withdraw-at: uint,
  }
)

;; A payee: credited by settlements (and voucher shortfalls), penalties from challenges, what it
;; may claim now and what it claimed. claimed + claimable = credited + penalties.
(define-map payees
  principal
  {
    credited: uint,
    penalties: uint,
    claimable: uint,
    claimed: uint,
  }
)

;; A settlement: the receipts root it published, its task count, height and total charged.
(define-map periods
  uint
  {
    root: (buff 32),
    tasks: uint,
    settled-at: uint,
    charged: uint,
  }
)

;; Leaf hashes proven in a receipt challenge: each leaf is paid once.
(define-map challenged-leaves (buff 32) uint)

(define-constant NO_ACCOUNT {
  balance: u0,
  spent: u0,
  nonce: u0,
  withdraw-amount: u0,
  withdraw-at: u0,
})
(define-constant NO_PAYEE {
  credited: u0,
  penalties: u0,
  claimable: u0,
  claimed: u0,
})

(define-private (account-of (who principal))
  (default-to NO_ACCOUNT (map-get? accounts who))
)

(define-private (payee-of (who principal))
  (default-to NO_PAYEE (map-get? payees who))
)

(define-private (min-of (a uint) (b uint))
  (if (< a b) a b)
)

;; ---------------------------------------------------------------------------------------------
;; Hashes and signatures

;; The SIP-018 hash of a message tuple's consensus bytes under this contract's domain.
(define-private (sip018-hash (message (buff 1024)))
  (sha256 (concat SIP018_PREFIX (concat DOMAIN_HASH (sha256 message))))
)

;; The 32 bytes an account signs to authorize a cumulative spend.
(define-read-only (authorization-hash
    (account principal)
    (cumulative uint)
    (nonce uint)
    (receipts-root (buff 32))
  )
  (sip018-hash (unwrap-panic (to-consensus-buff? {
    account: account,
    market: SELF,
    cumulative: cumulative,
    nonce: nonce,
    receipts-root: receipts-root,
  })))
)

;; The 32 bytes an account signs to request a task.
(define-read-only (request-hash (request {
  account: principal,
  model-output: uint,
  input-hash: (buff 32),
  max-fee: uint,
  expiry: uint,
  security: uint,
  nonce: uint,
}))
  (sip018-hash (unwrap-panic (to-consensus-buff? (merge request { market: SELF }))))
)

;; The 32 bytes the settler signs to promise a payee a cumulative credit by settle-by.
(define-read-only (voucher-hash (voucher {
  payee: principal,
  cumulative: uint,
  settle-by: uint,
}))
  (sip018-hash (unwrap-panic (to-consensus-buff? (merge voucher { market: SELF }))))
)

;; True if a signature is in the one form an honest signer makes: low s, recovery byte 0 or 1.
(define-read-only (is-canonical-signature (signature (buff 65)))
  (and
    (< (default-to 0xff (element-at? signature u64)) 0x02)
    (<= (default-to 0xff (slice? signature u32 u64)) HALF_N)
  )
)

;; True if `signature` over `hash` recovers to a key whose principal is `who`.
(define-private (signed-by (hash (buff 32)) (signature (buff 65)) (who principal))
  (match (secp256k1-recover? hash signature)
    key (is-eq (principal-of? key) (ok who))
    e false
  )
)

;; A receipt leaf's hash: sha256(0x00 ++ consensus bytes of the leaf).
(define-read-only (leaf-hash (leaf {
  account: principal,
  model-output: uint,
  input-hash: (buff 32),
  max-fee: uint,
  expiry: uint,
  security: uint,
  nonce: uint,
  request-signature: (buff 65),
  node: (buff 33),
  output-hash: (buff 32),
  fee: uint,
}))
  (sha256 (concat LEAF_PREFIX (unwrap-panic (to-consensus-buff? leaf))))
)

(define-private (merkle-step (step { hash: (buff 32), left: bool }) (acc (buff 32)))
  (sha256 (if (get left step)
    (concat NODE_PREFIX (concat (get hash step) acc))
    (concat NODE_PREFIX (concat acc (get hash step)))
  ))
)

;; The root a leaf hash leads to through a proof (`left: true`: the sibling is on the left).
(define-read-only (merkle-root-of
    (leaf (buff 32))
    (proof (list 32 { hash: (buff 32), left: bool }))
  )
  (fold merkle-step proof leaf)
)

;; ---------------------------------------------------------------------------------------------
;; Accounts

;; Adds `amount` micro-STX of the caller's to its account balance.
(define-public (deposit (amount uint))
  (let ((acct (account-of tx-sender)))
    (asserts! (> amount u0) ERR_ZERO_AMOUNT)
    (unwrap! (stx-transfer? amount tx-sender SELF) ERR_INSUFFICIENT_FUNDS)
    (map-set accounts tx-sender (merge acct { balance: (+ (get balance acct) amount) }))
    (var-set total-deposited (+ (var-get total-deposited) amount))
    (print {
      event: "account-deposit",
      account: tx-sender,
      amount: amount,
      balance: (+ (get balance acct) amount),
    })
    (ok (+ (get balance acct) amount))
  )
)

;; Announces a withdrawal of `amount`: it can be made dispute-window blocks from now, after the
;; settler has had the time to settle what the account owes. A new request replaces the last.
(define-public (request-withdrawal (amount uint))
  (let (
      (acct (account-of tx-sender))
      (at (+ stacks-block-height (var-get dispute-window)))
    )
    (asserts! (> amount u0) ERR_ZERO_AMOUNT)
    (asserts! (<= amount (get balance acct)) ERR_AMOUNT_ABOVE_BALANCE)
    (map-set accounts tx-sender (merge acct {
      withdraw-amount: amount,
      withdraw-at: at,
    }))
    (print {
      event: "withdrawal-requested",
      account: tx-sender,
      amount: amount,
      withdraw-at: at,
    })
    (ok at)
  )
)

;; Pays out the requested withdrawal, or the balance if settlements since left less.
(define-public (withdraw)
  (let (
      (who tx-sender)
      (acct (account-of who))
      (amount (min-of (get withdraw-amount acct) (get balance acct)))
    )
    (asserts! (> (get withdraw-at acct) u0) ERR_NO_WITHDRAWAL)
    (asserts! (>= stacks-block-height (get withdraw-at acct)) ERR_WITHDRAW_TOO_EARLY)
    (asserts! (or (is-eq amount u0) (is-ok (as-contract (stx-transfer? amount tx-sender who))))
      ERR_TRANSFER_FAILED
    )
    (map-set accounts who (merge acct {
      balance: (- (get balance acct) amount),
      withdraw-amount: u0,
      withdraw-at: u0,
    }))
    (var-set total-withdrawn (+ (var-get total-withdrawn) amount))
    (print {
      event: "account-withdrawal",
      account: who,
      amount: amount,
      balance: (- (get balance acct) amount),
    })
    (ok amount)
  )
)

;; Pays the caller everything it may claim as a payee.
(define-public (claim)
  (let (
      (who tx-sender)
      (p (payee-of who))
      (amount (get claimable p))
    )
    (asserts! (> amount u0) ERR_NOTHING_TO_CLAIM)
    (unwrap! (as-contract (stx-transfer? amount tx-sender who)) ERR_TRANSFER_FAILED)
    (map-set payees who (merge p {
      claimable: u0,
      claimed: (+ (get claimed p) amount),
    }))
    (var-set total-claimed (+ (var-get total-claimed) amount))
    (print {
      event: "payee-claim",
      payee: who,
      amount: amount,
    })
    (ok amount)
  )
)

;; ---------------------------------------------------------------------------------------------
;; Settlement

(define-private (check-settler)
  (ok (asserts! (is-eq (some contract-caller) (var-get settler)) ERR_NOT_SETTLER))
)

;; Checks one account's authorization and charges it; adds the charge to the running total.
(define-private (settle-item
    (item {
      account: principal,
      cumulative: uint,
      nonce: uint,
      receipts-root: (buff 32),
      signature: (buff 65),
      spend: uint,
    })
    (total (response uint uint))
  )
  (let (
      (charged (try! total))
      (who (get account item))
      (acct (account-of who))
      (spend (get spend item))
      (signature (get signature item))
    )
    (asserts! (is-canonical-signature signature) ERR_NON_CANONICAL_SIGNATURE)
    (asserts!
      (signed-by
        (authorization-hash who (get cumulative item) (get nonce item) (get receipts-root item))
        signature who
      )
      ERR_INVALID_SIGNATURE
    )
    (asserts! (>= (get nonce item) (get nonce acct)) ERR_NONCE_TOO_LOW)
    (asserts! (>= spend (get spent acct)) ERR_SPEND_BELOW_SETTLED)
    (asserts! (<= spend (get cumulative item)) ERR_SPEND_ABOVE_CAP)
    (asserts! (<= (- spend (get spent acct)) (get balance acct)) ERR_BALANCE_TOO_LOW)
    (map-set accounts who (merge acct {
      balance: (- (get balance acct) (- spend (get spent acct))),
      spent: spend,
      nonce: (get nonce item),
    }))
    (ok (+ charged (- spend (get spent acct))))
  )
)

;; Credits one payee; adds its amount to the running total.
(define-private (credit-payee (c { payee: principal, amount: uint }) (total uint))
  (let ((p (payee-of (get payee c))))
    (map-set payees (get payee c) (merge p {
      credited: (+ (get credited p) (get amount c)),
      claimable: (+ (get claimable p) (get amount c)),
    }))
    (+ total (get amount c))
  )
)

;; Settles a period: charges each account by its latest signed spend authorization and credits
;; the payees exactly the total charged. Settler only, bonded at least min-signer-bond. All or
;; nothing: one bad item refuses the whole call. Publishes the period's receipts root (challenged
;; with challenge-receipt). Returns the period id and the total charged.
(define-public (settle-accounts
    (root (buff 32))
    (tasks uint)
    (items (list 200 {
      account: principal,
      cumulative: uint,
      nonce: uint,
      receipts-root: (buff 32),
      signature: (buff 65),
      spend: uint,
    }))
    (credits (list 200 { payee: principal, amount: uint }))
  )
  (let (
      (id (+ (var-get last-period) u1))
      (unlock-at (var-get bond-unlock-at))
    )
    (try! (check-settler))
    (asserts! (>= (var-get bond) (var-get min-signer-bond)) ERR_BOND_TOO_LOW)
    (asserts!
      (or (is-eq unlock-at u0) (< (+ stacks-block-height (var-get dispute-window)) unlock-at))
      ERR_BOND_UNLOCKING
    )
    (let ((charged (try! (fold settle-item items (ok u0)))))
      (asserts! (is-eq (fold credit-payee credits u0) charged) ERR_CREDITS_MISMATCH)
      (map-set periods id {
        root: root,
        tasks: tasks,
        settled-at: stacks-block-height,
        charged: charged,
      })
      (var-set last-period id)
      (var-set total-charged (+ (var-get total-charged) charged))
      (var-set total-credited (+ (var-get total-credited) charged))
      (print {
        event: "accounts-settled",
        period: id,
        root: root,
        tasks: tasks,
        charged: charged,
        accounts: (len items),
        payees: (len credits),
      })
      (ok {
        period: id,
        charged: charged,
      })
    )
  )
)

;; ---------------------------------------------------------------------------------------------
;; Challenges, paid from the settler's bond

;; Takes up to `amount` from the bond (all of it if less); returns what was taken.
(define-private (take-from-bond (amount uint))
  (let ((paid (min-of amount (var-get bond))))
    (var-set bond (- (var-get bond) paid))
    (var-set total-bond-paid (+ (var-get total-bond-paid) paid))
    (var-set challenges-proven (+ (var-get challenges-proven) u1))
    paid
  )
)

;; A payee (or anyone for it) shows a voucher the settler signed and did not honour by its
;; settle-by: the shortfall (cumulative - credited) is credited from the bond, plus penalty-bps
;; of it as a penalty, as far as the bond goes. Within dispute-window blocks after settle-by.
(define-public (challenge-voucher
    (voucher {
      payee: principal,
      cumulative: uint,
      settle-by: uint,
    })
    (signature (buff 65))
  )
  (let (
      (payee (get payee voucher))
      (p (payee-of payee))
      (settle-by (get settle-by voucher))
    )
    (asserts! (> stacks-block-height settle-by) ERR_CHALLENGE_TOO_EARLY)
    (asserts! (<= stacks-block-height (+ settle-by (var-get dispute-window)))
      ERR_CHALLENGE_TOO_LATE
    )
    (asserts! (is-canonical-signature signature) ERR_NON_CANONICAL_SIGNATURE)
    (asserts!
      (is-eq (secp256k1-recover? (voucher-hash voucher) signature) (ok (var-get settler-key)))
      ERR_INVALID_SIGNATURE
    )
    (asserts! (> (get cumulative voucher) (get credited p)) ERR_NOTHING_OWED)
    (let (
        (shortfall (- (get cumulative voucher) (get credited p)))
        (paid (take-from-bond (+ shortfall (/ (* shortfall (var-get penalty-bps)) BPS))))
        (credit (min-of shortfall paid))
        (penalty (- paid credit))
      )
      (map-set payees payee (merge p {
        credited: (+ (get credited p) credit),
        penalties: (+ (get penalties p) penalty),
        claimable: (+ (get claimable p) paid),
      }))
      (var-set total-credited (+ (var-get total-credited) credit))
      (var-set total-penalties (+ (var-get total-penalties) penalty))
      (print {
        event: "voucher-challenged",
        payee: payee,
        cumulative: (get cumulative voucher),
        settle-by: settle-by,
        shortfall: shortfall,
        credited: credit,
        penalty: penalty,
        caller: tx-sender,
      })
      (ok {
        shortfall: shortfall,
        paid: paid,
      })
    )
  )
)

;; A requester (or anyone for it) proves that a period's receipts root holds a leaf the account
;; never signed the request of (a non-canonical signature counts as not signed), or whose fee is
;; above the request's max-fee. The account is paid the leaf's fee plus penalty-bps of it from
;; the bond (as far as it goes), to claim. Within dispute-window blocks after the settlement.
(define-public (challenge-receipt
    (period uint)
    (leaf {
      account: principal,
      model-output: uint,
      input-hash: (buff 32),
      max-fee: uint,
      expiry: uint,
      security: uint,
      nonce: uint,
      request-signature: (buff 65),
      node: (buff 33),
      output-hash: (buff 32),
      fee: uint,
    })
    (proof (list 32 { hash: (buff 32), left: bool }))
  )
  (let (
      (settled (unwrap! (map-get? periods period) ERR_PERIOD_NOT_FOUND))
      (hash (leaf-hash leaf))
      (account (get account leaf))
      (fee (get fee leaf))
      (signature (get request-signature leaf))
      (signed (and
        (is-canonical-signature signature)
        (signed-by
          (request-hash {
            account: account,
            model-output: (get model-output leaf),
            input-hash: (get input-hash leaf),
            max-fee: (get max-fee leaf),
            expiry: (get expiry leaf),
            security: (get security leaf),
            nonce: (get nonce leaf),
          })
          signature account
        )
      ))
    )
    (asserts!
      (<= stacks-block-height (+ (get settled-at settled) (var-get dispute-window)))
      ERR_CHALLENGE_TOO_LATE
    )
    (asserts! (is-eq (merkle-root-of hash proof) (get root settled)) ERR_INVALID_PROOF)
    (asserts! (is-none (map-get? challenged-leaves hash)) ERR_ALREADY_CHALLENGED)
    (asserts! (or (not signed) (> fee (get max-fee leaf))) ERR_CHALLENGE_NOT_PROVEN)
    (let (
        (paid (take-from-bond (+ fee (/ (* fee (var-get penalty-bps)) BPS))))
        (p (payee-of account))
      )
      (map-set challenged-leaves hash period)
      (map-set payees account (merge p {
        penalties: (+ (get penalties p) paid),
        claimable: (+ (get claimable p) paid),
      }))
      (var-set total-penalties (+ (var-get total-penalties) paid))
      (print {
        event: "receipt-challenged",
        period: period,
        leaf-hash: hash,
        account: account,
        fee: fee,
        signed: signed,
        paid: paid,
        caller: tx-sender,
      })
      (ok paid)
    )
  )
)

;; ---------------------------------------------------------------------------------------------
;; The settler's bond

;; Adds `amount` of the settler's STX to its bond; cancels a pending bond withdrawal.
(define-public (post-bond (amount uint))
  (begin
    (try! (check-settler))
    (asserts! (> amount u0) ERR_ZERO_AMOUNT)
    (unwrap! (stx-transfer? amount tx-sender SELF) ERR_INSUFFICIENT_FUNDS)
    (var-set bond (+ (var-get bond) amount))
    (var-set bond-unlock-at u0)
    (var-set total-bond-posted (+ (var-get total-bond-posted) amount))
    (print {
      event: "bond-posted",
      settler: tx-sender,
      amount: amount,
      bond: (var-get bond),
    })
    (ok (var-get bond))
  )
)

;; Announces that the settler takes its bond back: it unlocks after settle-window (the latest
;; settle-by an honest voucher has) plus dispute-window blocks. Meanwhile the settler may settle
;; only periods whose dispute window ends before the unlock.
(define-public (request-bond-withdrawal)
  (let ((at (+ stacks-block-height (var-get settle-window) (var-get dispute-window) u1)))
    (try! (check-settler))
    (asserts! (> (var-get bond) u0) ERR_NO_BOND)
    (var-set bond-unlock-at at)
    (print {
      event: "bond-withdrawal-requested",
      settler: tx-sender,
      bond: (var-get bond),
      unlock-at: at,
    })
    (ok at)
  )
)

;; Pays the settler its whole bond once it has unlocked.
(define-public (withdraw-bond)
  (let (
      (who tx-sender)
      (amount (var-get bond))
    )
    (try! (check-settler))
    (asserts! (> amount u0) ERR_NO_BOND)
    (asserts! (> (var-get bond-unlock-at) u0) ERR_NO_BOND_WITHDRAWAL)
    (asserts! (>= stacks-block-height (var-get bond-unlock-at)) ERR_BOND_LOCKED)
    (unwrap! (as-contract (stx-transfer? amount tx-sender who)) ERR_TRANSFER_FAILED)
    (var-set bond u0)
    (var-set bond-unlock-at u0)
    (var-set total-bond-withdrawn (+ (var-get total-bond-withdrawn) amount))
    (print {
      event: "bond-withdrawn",
      settler: who,
      amount: amount,
    })
    (ok amount)
  )
)

;; ---------------------------------------------------------------------------------------------
;; Administration (the deployer)

(define-private (check-admin)
  (ok (asserts! (is-eq contract-caller (var-get admin)) ERR_NOT_ADMIN))
)

;; Names the settler and its public key (which signs vouchers; its principal must be `who`).
;; Refused while the current settler has a bond: the bond answers for its vouchers and periods.
(define-public (set-settler (who principal) (key (buff 33)))
  (begin
    (try! (check-admin))
    (asserts! (is-eq (len key) u33) ERR_INVALID_KEY)
    (asserts! (is-eq (principal-of? key) (ok who)) ERR_KEY_MISMATCH)
    (asserts! (is-eq (var-get bond) u0) ERR_SETTLER_BONDED)
    (var-set settler (some who))
    (var-set settler-key key)
    (var-set bond-unlock-at u0)
    (print {
      event: "settler-set",
      settler: who,
      key: key,
    })
    (ok true)
  )
)

;; Sets how many blocks a withdrawal waits and a challenge stays open. Raised at any time; lowered
;; only while no bond is posted, so a challenge window promised under a bond never shrinks.
(define-public (set-dispute-window (blocks uint))
  (begin
    (try! (check-admin))
    (asserts! (> blocks u0) ERR_INVALID_CONFIG)
    (asserts! (or (>= blocks (var-get dispute-window)) (is-eq (var-get bond) u0)) ERR_WINDOW_LOWERED)
    (var-set dispute-window blocks)
    (print { event: "dispute-window-set", blocks: blocks })
    (ok true)
  )
)

;; Sets the longest delay between a voucher and its settle-by that the bond answers for. Raised at
;; any time; lowered only while no bond is posted (as set-dispute-window).
(define-public (set-settle-window (blocks uint))
  (begin
    (try! (check-admin))
    (asserts! (> blocks u0) ERR_INVALID_CONFIG)
    (asserts! (or (>= blocks (var-get settle-window)) (is-eq (var-get bond) u0)) ERR_WINDOW_LOWERED)
    (var-set settle-window blocks)
    (print { event: "settle-window-set", blocks: blocks })
    (ok true)
  )
)

;; Sets the smallest bond with which the settler may settle.
(define-public (set-min-signer-bond (amount uint))
  (begin
    (try! (check-admin))
    (var-set min-signer-bond amount)
    (print { event: "min-signer-bond-set", amount: amount })
    (ok true)
  )
)

;; Sets the penalty a proven challenge adds, in basis points of the amount at stake.
(define-public (set-penalty-bps (bps uint))
  (begin
    (try! (check-admin))
    (asserts! (<= bps MAX_PENALTY_BPS) ERR_INVALID_CONFIG)
    (var-set penalty-bps bps)
    (print { event: "penalty-bps-set", bps: bps })
    (ok true)
  )
)

;; ---------------------------------------------------------------------------------------------
;; Reading

;; An account's balance, settled spend and nonce, and pending withdrawal; none if it never deposited.
(define-read-only (get-account (who principal))
  (map-get? accounts who)
)

;; A payee's credited, penalties, claimable and claimed amounts; none if never credited.
(define-read-only (get-payee (who principal))
  (map-get? payees who)
)

;; A settled period: receipts root, task count, settled-at height and total charged.
(define-read-only (get-period (id uint))
  (map-get? periods id)
)

;; The period id a leaf hash was proven in, if it was.
(define-read-only (get-challenged-leaf (hash (buff 32)))
  (map-get? challenged-leaves hash)
)

;; The settler, its key, bond, bond unlock height (u0: no withdrawal requested) and the number
;; of challenges proven.
(define-read-only (get-signer)
  {
    settler: (var-get settler),
    key: (var-get settler-key),
    bond: (var-get bond),
    unlock-at: (var-get bond-unlock-at),
    challenges-proven: (var-get challenges-proven),
  }
)

(define-read-only (get-config)
  {
    admin: (var-get admin),
    dispute-window: (var-get dispute-window),
    settle-window: (var-get settle-window),
    min-signer-bond: (var-get min-signer-bond),
    penalty-bps: (var-get penalty-bps),
    settler: (var-get settler),
    settler-key: (var-get settler-key),
    last-period: (var-get last-period),
  }
)

;; Running totals; `held` is what the contract's STX balance must equal.
(define-read-only (get-totals)
  {
    deposited: (var-get total-deposited),
    withdrawn: (var-get total-withdrawn),
    charged: (var-get total-charged),
    credited: (var-get total-credited),
    penalties: (var-get total-penalties),
    claimed: (var-get total-claimed),
    bond-posted: (var-get total-bond-posted),
    bond-paid: (var-get total-bond-paid),
    bond-withdrawn: (var-get total-bond-withdrawn),
    held: (-
      (+ (var-get total-deposited) (var-get total-credited) (var-get total-penalties)
        (var-get total-bond-posted)
      )
      (+ (var-get total-withdrawn) (var-get total-charged) (var-get total-claimed)
        (var-get total-bond-paid) (var-get total-bond-withdrawn)
      )),
  }
)
