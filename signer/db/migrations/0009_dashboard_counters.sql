CREATE TABLE `dashboard_node_earnings` (
	`node_id` text PRIMARY KEY NOT NULL,
	`settled_tasks` integer NOT NULL,
	`payout` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `dashboard_task_counts` (
	`source` text NOT NULL,
	`status` text NOT NULL,
	`model` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`source`, `status`, `model`)
);
--> statement-breakpoint
INSERT INTO `dashboard_task_counts` (`source`, `status`, `model`, `n`)
	SELECT `source`, `status`, `model_type`, count(*) FROM `inference_tasks` GROUP BY `source`, `status`, `model_type`;
--> statement-breakpoint
INSERT INTO `dashboard_node_earnings` (`node_id`, `settled_tasks`, `payout`)
	SELECT coalesce(`inference_node_id`, ''), count(*), sum(cast(`node_payout` as integer)) FROM `inference_tasks`
	WHERE `status` = 'settled' AND `node_payout` IS NOT NULL GROUP BY coalesce(`inference_node_id`, '');
--> statement-breakpoint
CREATE TRIGGER `dashboard_tasks_insert` AFTER INSERT ON `inference_tasks` BEGIN
	INSERT INTO `dashboard_task_counts` (`source`, `status`, `model`, `n`) VALUES (NEW.`source`, NEW.`status`, NEW.`model_type`, 1)
		ON CONFLICT (`source`, `status`, `model`) DO UPDATE SET `n` = `n` + 1;
	INSERT INTO `dashboard_node_earnings` (`node_id`, `settled_tasks`, `payout`)
		SELECT coalesce(NEW.`inference_node_id`, ''), 1, cast(NEW.`node_payout` as integer) WHERE NEW.`status` = 'settled' AND NEW.`node_payout` IS NOT NULL
		ON CONFLICT (`node_id`) DO UPDATE SET `settled_tasks` = `settled_tasks` + 1, `payout` = `payout` + excluded.`payout`;
END;
--> statement-breakpoint
CREATE TRIGGER `dashboard_tasks_count` AFTER UPDATE OF `status`, `source`, `model_type` ON `inference_tasks`
WHEN OLD.`status` IS NOT NEW.`status` OR OLD.`source` IS NOT NEW.`source` OR OLD.`model_type` IS NOT NEW.`model_type` BEGIN
	UPDATE `dashboard_task_counts` SET `n` = `n` - 1 WHERE `source` = OLD.`source` AND `status` = OLD.`status` AND `model` = OLD.`model_type`;
	INSERT INTO `dashboard_task_counts` (`source`, `status`, `model`, `n`) VALUES (NEW.`source`, NEW.`status`, NEW.`model_type`, 1)
		ON CONFLICT (`source`, `status`, `model`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `dashboard_tasks_earn` AFTER UPDATE OF `status`, `inference_node_id`, `node_payout` ON `inference_tasks`
WHEN (OLD.`status` = 'settled' OR NEW.`status` = 'settled')
	AND (OLD.`status` IS NOT NEW.`status` OR OLD.`inference_node_id` IS NOT NEW.`inference_node_id` OR OLD.`node_payout` IS NOT NEW.`node_payout`) BEGIN
	UPDATE `dashboard_node_earnings` SET `settled_tasks` = `settled_tasks` - 1, `payout` = `payout` - cast(OLD.`node_payout` as integer)
		WHERE OLD.`status` = 'settled' AND OLD.`node_payout` IS NOT NULL AND `node_id` = coalesce(OLD.`inference_node_id`, '');
	INSERT INTO `dashboard_node_earnings` (`node_id`, `settled_tasks`, `payout`)
		SELECT coalesce(NEW.`inference_node_id`, ''), 1, cast(NEW.`node_payout` as integer) WHERE NEW.`status` = 'settled' AND NEW.`node_payout` IS NOT NULL
		ON CONFLICT (`node_id`) DO UPDATE SET `settled_tasks` = `settled_tasks` + 1, `payout` = `payout` + excluded.`payout`;
END;
--> statement-breakpoint
CREATE TRIGGER `dashboard_tasks_delete` AFTER DELETE ON `inference_tasks` BEGIN
	UPDATE `dashboard_task_counts` SET `n` = `n` - 1 WHERE `source` = OLD.`source` AND `status` = OLD.`status` AND `model` = OLD.`model_type`;
	UPDATE `dashboard_node_earnings` SET `settled_tasks` = `settled_tasks` - 1, `payout` = `payout` - cast(OLD.`node_payout` as integer)
		WHERE OLD.`status` = 'settled' AND OLD.`node_payout` IS NOT NULL AND `node_id` = coalesce(OLD.`inference_node_id`, '');
END;
