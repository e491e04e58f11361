CREATE TABLE `guard_audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`token_id` integer,
	`model` text NOT NULL,
	`request_id` text NOT NULL,
	`data_level` text NOT NULL,
	`rule` text NOT NULL,
	`path` text NOT NULL,
	`action` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `guard_audit_at_idx` ON `guard_audit` (`at`);--> statement-breakpoint
CREATE TABLE `model_policies` (
	`model` text PRIMARY KEY NOT NULL,
	`data_level` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `data_level` text;