CREATE TABLE `chain_cursor` (
	`id` text PRIMARY KEY NOT NULL,
	`cursor` text,
	`tip_height` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `input_blobs` (
	`sha256` text PRIMARY KEY NOT NULL,
	`data` blob NOT NULL,
	`size` integer NOT NULL,
	`content_type` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `inference_nodes` (
	`node_id` text PRIMARY KEY NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`public_key` text NOT NULL,
	`status` text NOT NULL,
	`supported_models` text NOT NULL,
	`performance_score` real NOT NULL,
	`last_heartbeat` integer NOT NULL,
	`capabilities` text,
	`gpu_memory_mb` integer DEFAULT 0 NOT NULL,
	`task_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`successes` real DEFAULT 0 NOT NULL,
	`failures` real DEFAULT 0 NOT NULL,
	`reputation_at` integer DEFAULT 0 NOT NULL,
	`last_failure_at` integer,
	`latency_ms` real
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inference_nodes_public_key_unique` ON `inference_nodes` (`public_key`);--> statement-breakpoint
CREATE TABLE `settlements` (
	`txid` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`raw` text NOT NULL,
	`nonce` text NOT NULL,
	`task_ids` text NOT NULL,
	`item_count` integer NOT NULL,
	`block_height` integer,
	`reason` text,
	`broadcasts` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`broadcast_at` integer
);
--> statement-breakpoint
CREATE INDEX `settlements_status_idx` ON `settlements` (`status`);--> statement-breakpoint
CREATE TABLE `task_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` text NOT NULL,
	`from_status` text,
	`to_status` text NOT NULL,
	`reason` text NOT NULL,
	`node_id` text,
	`txid` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_events_task_idx` ON `task_events` (`task_id`,`id`);--> statement-breakpoint
CREATE TABLE `inference_tasks` (
	`task_id` text PRIMARY KEY NOT NULL,
	`user_address` text NOT NULL,
	`user_input` text,
	`context` text,
	`fee` text NOT NULL,
	`nonce` integer,
	`infer_fee` text NOT NULL,
	`max_infer_time` integer NOT NULL,
	`model_type` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`output` text,
	`confidence` real,
	`completed_at` integer,
	`inference_node_id` text,
	`chain_task_id` text,
	`model_output` text,
	`artifact_hash` text NOT NULL,
	`input_hash` text NOT NULL,
	`deadline` integer,
	`privacy` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`submit_txid` text,
	`submit_block_height` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`leased_at` integer,
	`lease_expires_at` integer,
	`output_hash` text,
	`signature` text,
	`node_public_key` text,
	`error` text,
	`settlement_txid` text,
	`node_payout` text,
	`settled_at` integer,
	`reclaim_txid` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inference_tasks_chain_task_id_unique` ON `inference_tasks` (`chain_task_id`);--> statement-breakpoint
CREATE INDEX `tasks_queue_idx` ON `inference_tasks` (`status`,`artifact_hash`,"priority" desc,`created_at`);--> statement-breakpoint
CREATE INDEX `tasks_node_idx` ON `inference_tasks` (`inference_node_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_deadline_idx` ON `inference_tasks` (`status`,`deadline`);--> statement-breakpoint
CREATE INDEX `tasks_settlement_idx` ON `inference_tasks` (`settlement_txid`);