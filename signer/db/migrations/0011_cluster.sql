CREATE TABLE `console_setup` (
	`id` integer PRIMARY KEY NOT NULL,
	`token_sha256` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `leader_lease` (
	`id` integer PRIMARY KEY NOT NULL,
	`epoch` integer NOT NULL,
	`holder` text NOT NULL,
	`acquired_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `login_failures` (
	`key` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`window_ends` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `replay_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `replay_keys_expires_idx` ON `replay_keys` (`expires_at`);--> statement-breakpoint
ALTER TABLE `settlements` ADD `leader_epoch` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `settlements_open_nonce_idx` ON `settlements` (`nonce`) WHERE "settlements"."status" in ('built', 'broadcast');