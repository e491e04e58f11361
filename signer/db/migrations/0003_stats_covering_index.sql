DROP INDEX `tasks_completed_idx`;--> statement-breakpoint
CREATE INDEX `tasks_completed_idx` ON `inference_tasks` (`completed_at`,`leased_at`) WHERE "inference_tasks"."completed_at" is not null;