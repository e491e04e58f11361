ALTER TABLE `input_blobs` ADD `uploader` text;--> statement-breakpoint
CREATE INDEX `input_blobs_uploader_idx` ON `input_blobs` (`uploader`) WHERE "input_blobs"."uploader" is not null;--> statement-breakpoint
CREATE INDEX `tasks_input_idx` ON `inference_tasks` (`input_hash`);