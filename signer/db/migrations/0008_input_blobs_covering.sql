DROP INDEX `input_blobs_uploader_idx`;--> statement-breakpoint
CREATE INDEX `input_blobs_unclaimed_idx` ON `input_blobs` (`uploader`,`sha256`,`size`) WHERE "input_blobs"."uploader" is not null;--> statement-breakpoint
CREATE INDEX `input_blobs_created_idx` ON `input_blobs` (`created_at`);