;; model-registry: UTXO-style model deployments.
;;
;; Every version of a model is an output. The live output of a model is its head; changing a
;; model spends the head and (except for `retire`) creates its child. Only the owner of an
;; unspent output may spend it, and a spent output is never spendable again, so the outputs of
;; one model always form a single chain from its first deployment to its head.
;; A model name belongs to its first deployment forever, even after it is retired.

;; caller does not own the output
(define-constant ERR_NOT_OWNER (err u1001))
;; no output with that id
(define-constant ERR_OUTPUT_NOT_FOUND (err u1002))
;; the output was already spent (upgraded, transferred, retired or rolled back)
(define-constant ERR_OUTPUT_SPENT (err u1003))
;; the model name was already taken by an earlier deployment
(define-constant ERR_MODEL_EXISTS (err u1004))
;; model name is empty
(define-constant ERR_INVALID_MODEL (err u1005))
;; artifact hash is not 32 bytes (sha256 of the .onnx file)
(define-constant ERR_INVALID_HASH (err u1006))
;; format is empty
(define-constant ERR_INVALID_FORMAT (err u1007))
;; transfer to the current owner
(define-constant ERR_SAME_OWNER (err u1008))
;; rollback target is not an earlier output of the same model
(define-constant ERR_INVALID_ANCESTOR (err u1009))
;; precision is above 9 significant digits (float32 carries about 7)
(define-constant ERR_INVALID_PRECISION (err u1010))

;; Most significant digits an output's float values are compared to; u0 compares them exactly.
(define-constant MAX_PRECISION u9)

(define-data-var last-output-id uint u0)

(define-map outputs
  uint
  {
    model: (string-ascii 64),
    owner: principal,
    artifact-hash: (buff 32),
    format: (string-ascii 16),
    version: uint,
    price: uint,
    uri: (string-utf8 256),
    ;; significant digits that float outputs are rounded to before they are hashed and
    ;; compared between nodes (u0: exact)
    precision: uint,
    parent: (optional uint),
    spent: bool,
  }
)

;; model name -> output id of its live output; deleted on retire
(define-map heads (string-ascii 64) uint)
;; model name -> its first output id; never deleted, so a name is never reused
(define-map names (string-ascii 64) uint)

;; Stores a new output as the head of its model and prints `event` with all its fields.
(define-private (create-output
    (event (string-ascii 32))
    (model (string-ascii 64))
    (owner principal)
    (artifact-hash (buff 32))
    (format (string-ascii 16))
    (version uint)
    (price uint)
    (uri (string-utf8 256))
    (precision uint)
    (parent (optional uint))
  )
  (let ((id (+ (var-get last-output-id) u1)))
    (var-set last-output-id id)
    (map-set outputs id {
      model: model,
      owner: owner,
      artifact-hash: artifact-hash,
      format: format,
      version: version,
      price: price,
      uri: uri,
      precision: precision,
      parent: parent,
      spent: false,
    })
    (map-set heads model id)
    (print {
      event: event,
      output-id: id,
      model: model,
      owner: owner,
      artifact-hash: artifact-hash,
      format: format,
      version: version,
      price: price,
      uri: uri,
      precision: precision,
      parent: parent,
    })
    (ok id)
  )
)

;; Checks that the caller may spend `output-id`, marks it spent and returns it.
(define-private (spend (output-id uint))
  (let ((output (unwrap! (map-get? outputs output-id) ERR_OUTPUT_NOT_FOUND)))
    (asserts! (is-eq (get owner output) contract-caller) ERR_NOT_OWNER)
    (asserts! (not (get spent output)) ERR_OUTPUT_SPENT)
    (map-set outputs output-id (merge output { spent: true }))
    (ok output)
  )
)

(define-private (check-artifact
    (artifact-hash (buff 32))
    (format (string-ascii 16))
    (precision uint)
  )
  (begin
    (asserts! (is-eq (len artifact-hash) u32) ERR_INVALID_HASH)
    (asserts! (> (len format) u0) ERR_INVALID_FORMAT)
    (asserts! (<= precision MAX_PRECISION) ERR_INVALID_PRECISION)
    (ok true)
  )
)

;; Publishes the first version of a new model, owned by the caller.
(define-public (deploy
    (model (string-ascii 64))
    (artifact-hash (buff 32))
    (format (string-ascii 16))
    (price uint)
    (uri (string-utf8 256))
    (precision uint)
  )
  (begin
    (asserts! (> (len model) u0) ERR_INVALID_MODEL)
    (asserts! (is-none (map-get? names model)) ERR_MODEL_EXISTS)
    (try! (check-artifact artifact-hash format precision))
    (map-set names model (+ (var-get last-output-id) u1))
    (create-output "model-deployed" model contract-caller artifact-hash format u1
      price uri precision none
    )
  )
)

;; Spends the live output and creates the next version with a new artifact and price.
(define-public (upgrade
    (output-id uint)
    (artifact-hash (buff 32))
    (format (string-ascii 16))
    (price uint)
    (uri (string-utf8 256))
    (precision uint)
  )
  (let ((output (try! (spend output-id))))
    (try! (check-artifact artifact-hash format precision))
    (create-output "model-upgraded" (get model output) (get owner output)
      artifact-hash format
      (+ (get version output) u1)
      price uri precision (some output-id)
    )
  )
)

;; Spends the live output and re-creates it, unchanged but for its owner.
(define-public (transfer
    (output-id uint)
    (new-owner principal)
  )
  (let ((output (try! (spend output-id))))
    (asserts! (not (is-eq new-owner (get owner output))) ERR_SAME_OWNER)
    (create-output "model-transferred" (get model output) new-owner
      (get artifact-hash output) (get format output) (get version output)
      (get price output) (get uri output) (get precision output) (some output-id)
    )
  )
)

;; Spends the live output with no child: the model is unpublished for good.
(define-public (retire (output-id uint))
  (let ((output (try! (spend output-id))))
    (map-delete heads (get model output))
    (print {
      event: "model-retired",
      output-id: output-id,
      model: (get model output),
      owner: (get owner output),
      artifact-hash: (get artifact-hash output),
      format: (get format output),
      version: (get version output),
      price: (get price output),
      uri: (get uri output),
      precision: (get precision output),
      parent: (get parent output),
    })
    (ok true)
  )
)

;; Spends the live output and creates a new version carrying an earlier output's artifact,
;; format, uri and precision; the price stays the current one.
(define-public (rollback
    (output-id uint)
    (ancestor-id uint)
  )
  (let (
      (output (try! (spend output-id)))
      (ancestor (unwrap! (map-get? outputs ancestor-id) ERR_INVALID_ANCESTOR))
    )
    ;; every earlier output of the same model is an ancestor: a model's outputs form one chain
    (asserts!
      (and (is-eq (get model ancestor) (get model output)) (< ancestor-id output-id))
      ERR_INVALID_ANCESTOR
    )
    (create-output "model-rolled-back" (get model output) (get owner output)
      (get artifact-hash ancestor) (get format ancestor)
      (+ (get version output) u1)
      (get price output) (get uri ancestor) (get precision ancestor) (some output-id)
    )
  )
)

;; The live output of a model, with its id; none if never deployed or retired.
(define-read-only (get-head (model (string-ascii 64)))
  (match (map-get? heads model)
    id (match (map-get? outputs id)
      output (some (merge output { output-id: id }))
      none
    )
    none
  )
)

;; Any output, spent or not.
(define-read-only (get-output (output-id uint))
  (map-get? outputs output-id)
)

;; Id of the most recently created output (0 before the first deployment).
(define-read-only (get-last-output-id)
  (var-get last-output-id)
)
