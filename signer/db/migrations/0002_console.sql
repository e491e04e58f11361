CREATE TABLE `admin_sessions` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`csrf_token` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `admin_sessions_expiry_idx` ON `admin_sessions` (`expires_at`);--> statement-breakpoint
CREATE TABLE `admin_users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_users_username_unique` ON `admin_users` (`username`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`token_prefix` text NOT NULL,
	`allowed_models` text,
	`ip_allowlist` text DEFAULT '[]' NOT NULL,
	`rate_limit_per_minute` integer DEFAULT 60 NOT NULL,
	`monthly_quota` integer DEFAULT 0 NOT NULL,
	`expires_at` integer,
	`status` text DEFAULT 'active' NOT NULL,
	`usage_month` text DEFAULT '' NOT NULL,
	`month_count` integer DEFAULT 0 NOT NULL,
	`minute_started_at` integer DEFAULT 0 NOT NULL,
	`minute_count` integer DEFAULT 0 NOT NULL,
	`total_count` integer DEFAULT 0 NOT NULL,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `console_models` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`inputs` text,
	`outputs` text,
	`status` text NOT NULL,
	`error` text,
	`price` text,
	`output_id` text,
	`version` integer,
	`publish_txid` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `console_models_name_idx` ON `console_models` (`name`,`created_at`);--> statement-breakpoint
CREATE TABLE `inference_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`token_id` integer,
	`model` text NOT NULL,
	`task_id` text,
	`status` text NOT NULL,
	`http_status` integer NOT NULL,
	`items` integer DEFAULT 1 NOT NULL,
	`latency_ms` integer,
	`error` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `inference_logs_time_idx` ON `inference_logs` (`created_at`);--> statement-breakpoint
CREATE INDEX `inference_logs_token_idx` ON `inference_logs` (`token_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `inference_logs_model_idx` ON `inference_logs` (`model`,`created_at`);--> statement-breakpoint
CREATE INDEX `inference_logs_task_idx` ON `inference_logs` (`task_id`) WHERE "inference_logs"."task_id" is not null;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `source` text DEFAULT 'chain' NOT NULL;