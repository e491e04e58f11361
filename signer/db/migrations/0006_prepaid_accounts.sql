CREATE TABLE `payee_credits` (
	`payee` text PRIMARY KEY NOT NULL,
	`owed` text DEFAULT '0' NOT NULL,
	`credited` text DEFAULT '0' NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prepaid_accounts` (
	`account` text PRIMARY KEY NOT NULL,
	`public_key` text NOT NULL,
	`balance` text DEFAULT '0' NOT NULL,
	`spent` text DEFAULT '0' NOT NULL,
	`settled_nonce` text DEFAULT '0' NOT NULL,
	`withdraw_at` integer,
	`auth_cumulative` text DEFAULT '0' NOT NULL,
	`auth_nonce` text DEFAULT '0' NOT NULL,
	`auth_root` text,
	`auth_signature` text,
	`owed` text DEFAULT '0' NOT NULL,
	`reserved` text DEFAULT '0' NOT NULL,
	`read_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prepaid_periods` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`root` text NOT NULL,
	`tasks` integer NOT NULL,
	`charged` text NOT NULL,
	`items` text NOT NULL,
	`txid` text,
	`status` text NOT NULL,
	`chain_period` integer,
	`created_at` integer NOT NULL,
	`confirmed_at` integer
);
--> statement-breakpoint
CREATE INDEX `prepaid_periods_status_idx` ON `prepaid_periods` (`status`);--> statement-breakpoint
CREATE TABLE `prepaid_receipts` (
	`task_id` text PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`nonce` text NOT NULL,
	`request` text NOT NULL,
	`request_signature` text NOT NULL,
	`max_fee` text NOT NULL,
	`fee` text,
	`node_key` text,
	`output_hash` text,
	`leaf_hash` text,
	`shares` text,
	`status` text NOT NULL,
	`paid_nonce` text,
	`period_id` integer,
	`created_at` integer NOT NULL,
	`paid_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `prepaid_receipts_nonce_idx` ON `prepaid_receipts` (`account`,`nonce`);--> statement-breakpoint
CREATE INDEX `prepaid_receipts_status_idx` ON `prepaid_receipts` (`status`,`account`);--> statement-breakpoint
CREATE INDEX `prepaid_receipts_period_idx` ON `prepaid_receipts` (`period_id`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `account` text;