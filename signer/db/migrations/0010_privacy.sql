CREATE TABLE `node_reservations` (
	`reservation_id` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`model` text NOT NULL,
	`artifact_hash` text NOT NULL,
	`node_ids` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `node_reservations_expires_idx` ON `node_reservations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `sealed_inputs` (
	`input_hash` text NOT NULL,
	`node_id` text NOT NULL,
	`holder` text NOT NULL,
	`ciphertext_sha256` text NOT NULL,
	`reservation_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`input_hash`, `node_id`, `holder`)
);
--> statement-breakpoint
CREATE INDEX `sealed_inputs_blob_idx` ON `sealed_inputs` (`ciphertext_sha256`);--> statement-breakpoint
ALTER TABLE `inference_nodes` ADD `trusted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `trusted_only` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `sealed_signature` text;