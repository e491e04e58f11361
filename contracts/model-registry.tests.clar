;; Rendezvous invariants for model-registry (run by `npm run fuzz`: `rv . model-registry invariant`).
;;
;; The `fuzz-` wrappers map random arguments onto up to 50 model names and the newest outputs,
;; so random call sequences actually upgrade, transfer, retire and roll back the same models.
;; The invariants check the 32 newest outputs after every call.

(define-constant FUZZ_OFFSETS (list u0 u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11 u12 u13 u14 u15 u16 u17 u18 u19 u20 u21 u22 u23 u24 u25 u26 u27 u28 u29 u30 u31))

;; One of the four newest outputs (u1 before any exists).
(define-private (fuzz-pick (n uint))
  (let ((last (var-get last-output-id)))
    (if (> last (mod n u4)) (- last (mod n u4)) u1)
  )
)

(define-public (fuzz-deploy (name uint) (price uint))
  (deploy (int-to-ascii (mod name u50)) (sha256 name) "onnx" price u"fuzz://" (mod price u10))
)

(define-public (fuzz-upgrade (pick uint) (price uint))
  (upgrade (fuzz-pick pick) (sha256 price) "onnx" price u"fuzz://next" (mod price u10))
)

(define-public (fuzz-transfer (pick uint) (to principal))
  (transfer (fuzz-pick pick) to)
)

(define-public (fuzz-retire (pick uint))
  (retire (fuzz-pick pick))
)

;; Rolls back to one of the three outputs just before the picked one (often the same model).
(define-public (fuzz-rollback (pick uint) (ancestor uint))
  (let ((id (fuzz-pick pick)))
    (rollback id (- id (min-uint id (+ u1 (mod ancestor u3)))))
  )
)

(define-private (output-ok (offset uint) (ok-so-far bool))
  (let ((id (- (var-get last-output-id) (min-uint offset (var-get last-output-id)))))
  (and ok-so-far
    (match (map-get? outputs id)
      output (and
        ;; a child's parent is an earlier, spent output of the same model, at most one version behind
        (match (get parent output)
          p (match (map-get? outputs p)
            parent (and (< p id) (get spent parent) (is-eq (get model parent) (get model output))
              (<= (get version output) (+ (get version parent) u1)) (>= (get version output) (get version parent)))
            false)
          (is-eq (get version output) u1))
        ;; the head of a model is its latest output and unspent; anything older is spent
        (match (map-get? heads (get model output))
          head (if (is-eq head id) (not (get spent output)) (and (< id head) (get spent output)))
          (get spent output))
        ;; a model's name stays taken from its first output on
        (is-some (map-get? names (get model output))))
      true)))
)

(define-private (min-uint (a uint) (b uint))
  (if (< a b) a b)
)

;; Outputs form one chain per model: parents spent, heads live, versions in step.
(define-read-only (invariant-output-chains)
  (fold output-ok FUZZ_OFFSETS true)
)

;; Output ids are dense: every id up to the last one exists.
(define-read-only (invariant-ids-dense)
  (or (is-eq (var-get last-output-id) u0) (is-some (map-get? outputs (var-get last-output-id))))
)
