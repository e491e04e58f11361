ALTER TABLE `inference_tasks` ADD `security` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `precision` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `sample_bps` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `runs_needed` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `inference_tasks` ADD `votes` text;